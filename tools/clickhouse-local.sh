#!/bin/sh
# clickhouse-local.sh - start and stop a throw-away ClickHouse (Debian's
# clickhouse-server 18.16) on loopback, for cprof's server tests and for
# users trying `cprof server -storage=clickhouse://...`.
#
#   tools/clickhouse-local.sh start DIR [-port P] [-cluster]
#   tools/clickhouse-local.sh stop DIR
#   tools/clickhouse-local.sh url DIR
#   tools/clickhouse-local.sh stop-node|start-node DIR -port N   (cluster node N, 1..4)
#
# start writes everything under DIR (configs, data, logs, pid files; DIR is
# created), starts the server(s) in the background on 127.0.0.1 only, waits
# until each answers /ping (at most 60 s), and prints the -storage URL and
# the stop command.  One node: HTTP on P (default 18123), native TCP on
# P+1, interserver on P+2.  -cluster: a ZooKeeper (client port P+50) and
# four nodes, shards 1 and 2 with replicas a and b each, node i on ports
# P+10*i..; the cluster is named "cprof" in every node's config, with
# macros {shard} and {replica} for ReplicatedMergeTree paths.
# CH_ZSTD_LEVEL=N in the environment sets the server-wide ZSTD level
# (default: ClickHouse's, 1).
# stop sends SIGTERM to the processes whose pids start recorded, waits for
# them to exit (SIGKILL after 20 s), and leaves nothing running.  Data
# stays in DIR (remove it yourself).  Exit status 0, or 1 with one line on
# stderr naming what failed.
set -eu

die() { echo "clickhouse-local.sh: $*" >&2; exit 1; }

CHS=/usr/sbin/clickhouse-server
ZKDIR=/usr/share/zookeeper

# node_config DIR NAME HTTP_PORT SHARD REPLICA CLUSTER(0/1) ZKPORT BASE
node_config() {
	d=$1/$2; port=$3
	mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/log" "$d/format_schemas"
	cluster=""
	if [ "$6" = 1 ]; then
		b=$8
		cluster="<remote_servers><cprof>
  <shard><internal_replication>true</internal_replication>
    <replica><host>127.0.0.1</host><port>$((b + 11))</port></replica>
    <replica><host>127.0.0.1</host><port>$((b + 21))</port></replica></shard>
  <shard><internal_replication>true</internal_replication>
    <replica><host>127.0.0.1</host><port>$((b + 31))</port></replica>
    <replica><host>127.0.0.1</host><port>$((b + 41))</port></replica></shard>
</cprof></remote_servers>
<zookeeper><node><host>127.0.0.1</host><port>$7</port></node></zookeeper>
<macros><shard>$4</shard><replica>$5</replica></macros>
<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
	fi
	cat > "$d/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log>
    <errorlog>$d/log/server.err.log</errorlog><size>10M</size><count>2</count></logger>
  <http_port>$port</http_port>
  <tcp_port>$((port + 1))</tcp_port>
  <interserver_http_port>$((port + 2))</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <compression><case><method>zstd</method>${CH_ZSTD_LEVEL:+<level>$CH_ZSTD_LEVEL</level>}</case></compression>
  $cluster
</yandex>
EOF
	cat > "$d/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage>
    <load_balancing>in_order</load_balancing></default></profiles>
  <users><default><password></password>
    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries>
    <errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows>
    <execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
}

start_node() {
	d=$1/$2
	"$CHS" --config-file="$d/config.xml" > "$d/log/stdout.log" 2>&1 &
	echo $! > "$d/pid"
}

wait_ping() {
	port=$1; name=$2; i=0
	while [ $i -lt 600 ]; do
		if curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then
			return 0
		fi
		i=$((i + 1))
		sleep 0.1
	done
	die "$name on port $port did not answer /ping within 60 s (see its log/ directory)"
}

start_zk() {
	d=$1/zk; port=$2
	mkdir -p "$d/data" "$d/conf" "$d/log"
	cat > "$d/conf/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$d/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
EOF
	cp /etc/zookeeper/conf/log4j.properties "$d/conf/" 2>/dev/null || true
	cp="$d/conf"
	for j in "$ZKDIR"/lib/*.jar /usr/share/java/zookeeper*.jar; do
		[ -f "$j" ] && cp="$cp:$j"
	done
	for j in /usr/share/java/*.jar; do cp="$cp:$j"; done
	ZOO_LOG_DIR="$d/log" java -Xmx256m -Dzookeeper.log.dir="$d/log" -Dzookeeper.root.logger=WARN,CONSOLE \
		-cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/conf/zoo.cfg" \
		> "$d/log/stdout.log" 2>&1 &
	echo $! > "$d/pid"
	i=0
	while [ $i -lt 600 ]; do
		if [ "$(printf ruok | timeout 3 curl -s --max-time 2 "telnet://127.0.0.1:$port" 2>/dev/null || true)" = imok ]; then
			return 0
		fi
		if ! kill -0 "$(cat "$d/pid")" 2>/dev/null; then
			die "ZooKeeper exited at start (see $d/log/stdout.log)"
		fi
		i=$((i + 1))
		sleep 0.1
	done
	die "ZooKeeper on port $port did not answer within 60 s (see $d/log/stdout.log)"
}

stop_pid() {
	f=$1
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1; i=$((i + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
	fi
	rm -f "$f"
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop|url DIR [-port P] [-cluster]"
shift 2
port=18123; cluster=0
while [ $# -gt 0 ]; do
	case $1 in
	-port) [ $# -ge 2 ] || die "-port needs a number"; port=$2; shift 2 ;;
	-cluster) cluster=1; shift ;;
	*) die "unknown option $1" ;;
	esac
done
case $port in ''|*[!0-9]*) die "-port $port: not a number" ;; esac
BASE=$port      # the functions above assign their own port variables

case $cmd in
start)
	[ -x "$CHS" ] || die "$CHS missing: install clickhouse-server (sudo ./setup.sh)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ $cluster = 0 ]; then
		node_config "$dir" node1 "$BASE" 1 a 0 0 0
		echo "$BASE" > "$dir/ports"
		start_node "$dir" node1
		wait_ping "$BASE" node1
		url="clickhouse://127.0.0.1:$BASE/cprof"
	else
		command -v java >/dev/null || die "java missing: install zookeeper (sudo ./setup.sh)"
		start_zk "$dir" $((BASE + 50))
		: > "$dir/ports"
		i=1
		for sr in 1:a 1:b 2:a 2:b; do
			p=$((BASE + 10 * i))
			node_config "$dir" node$i "$p" "${sr%%:*}" "${sr##*:}" 1 $((BASE + 50)) "$BASE"
			echo "$p" >> "$dir/ports"
			start_node "$dir" node$i
			i=$((i + 1))
		done
		for p in $(cat "$dir/ports"); do wait_ping "$p" "node on $p"; done
		url="clickhouse://$(paste -sd, "$dir/ports" | sed 's/\([0-9][0-9]*\)/127.0.0.1:\1/g')/cprof?cluster=cprof"
	fi
	echo "$url" > "$dir/url"
	echo "ClickHouse ready: -storage=$url"
	echo "stop with: $0 stop $dir"
	;;
stop)
	[ -d "$dir" ] || exit 0
	for f in "$dir"/node*/pid; do stop_pid "$f"; done
	stop_pid "$dir/zk/pid"
	;;
url)
	cat "$dir/url"
	;;
stop-node|start-node)
	n=$BASE
	[ -f "$dir/node$n/config.xml" ] || die "no node $n in $dir (give its number as -port N)"
	if [ "$cmd" = stop-node ]; then
		stop_pid "$dir/node$n/pid"
	else
		start_node "$dir" "node$n"
		wait_ping "$(sed -n "${n}p" "$dir/ports")" "node $n"
	fi
	;;
*)
	die "unknown command $cmd (start, stop or url)"
	;;
esac
