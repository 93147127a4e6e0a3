// The real @pyroscope/nodejs client pointed at a cprof server: it profiles
// this program (wall and heap) and pushes every FLUSH_MS to SERVER.
// Used by tests/e2e/test_server_push.py.  Prints "pushed" after each
// flush the server answered.
const Pyroscope = require('@pyroscope/nodejs');

const server = process.env.SERVER;
const flushMs = Number(process.env.FLUSH_MS || 1000);
Pyroscope.init({
  serverAddress: server,
  appName: 'nodeapp',
  tags: { region: 'eu-west/1', version: '1.2.3' },
  flushIntervalMs: flushMs,
});
Pyroscope.start();

function busy(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}
const keep = [];
const timer = setInterval(() => {
  Pyroscope.wrapWithLabels({ handler: 'work' }, () => busy(50));
  keep.push(Buffer.alloc(64 * 1024));
}, 60);
setTimeout(async () => {
  clearInterval(timer);
  await Pyroscope.stop();
  console.log('done');
  process.exit(0);
}, Number(process.env.RUN_MS || 5000));
