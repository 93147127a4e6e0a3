import struct, sys
def build(w, big, recs, maps, period=10000, trailer=True, extra=b''):
    fmt = ('>' if big else '<') + ('I' if w == 4 else 'Q')
    out = b''.join(struct.pack(fmt, x) for x in (0, 3, 0, period, 0))
    for count, pcs in recs:
        out += struct.pack(fmt, count) + struct.pack(fmt, len(pcs)) + b''.join(struct.pack(fmt, a) for a in pcs)
    if trailer:
        out += b''.join(struct.pack(fmt, x) for x in (0, 1, 0))
    return out + maps.encode() + extra
# the second frame 0x7000 is the signal handler's (common to all but n/32)
recs = []
for i in range(70):
    leaf = 0x401000 + (i % 5) * 0x10
    recs.append((1 + i % 3, [leaf, 0x7001, 0x7101, 0x402001 + (i % 2) * 0x20, 0x403001]))
recs.append((2, [0x401100]))                         # depth 1
recs.append((1, [0x401200, 0x401200, 0x402001]))     # leaf reported twice
recs.append((0, [0x401300, 0x7001, 0x7101, 0x0]))     # zero count
maps = ("00400000-00410000 r-xp 00000000 08:01 123 /usr/bin/prog\n"
        "00410000-00420000 r--p 00010000 08:01 123 /usr/bin/prog\n"
        "00007000-00008000 r-xp 00000000 00:00 0 [vdso]\n")
for w in (4, 8):
    for big in (False, True):
        name = 'cpu%d%s.prof' % (w * 8, 'be' if big else 'le')
        open(name, 'wb').write(build(w, big, recs, maps))
open('cpu_noTrailer.prof','wb').write(build(8, False, recs[:5], '', trailer=False))
