# Unpack the bootstrap .debs into $out with busybox alone (data.tar only, merged /usr), then
# byte-compile the tool Python's standard library.
$busybox/bin/busybox mkdir -p "$TMPDIR/bin"
$busybox/bin/busybox --install -s "$TMPDIR/bin"
export PATH="$TMPDIR/bin"
mkdir -p "$out/usr/bin" "$out/usr/sbin" "$out/usr/lib" "$out/usr/lib64"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$out/$d"; done
cd "$out"
# Decompressing is most of the time: one worker per core decompresses its share of the .debs
# (every Nth) into $TMPDIR, then the tars are unpacked one after another in the .debs' order,
# so a path two .debs ship ends up as the later one has it, as when each was unpacked in turn.
set -o pipefail
workers=${NIX_BUILD_CORES:-1}
[ "$workers" -gt 0 ] || workers=$(nproc)
worker=0
while [ "$worker" -lt "$workers" ]; do
  (
    i=0
    for deb in $debs; do
      i=$((i + 1))
      [ $((i % workers)) -eq "$worker" ] || continue
      member=$(ar t "$deb" | grep '^data\.tar')
      case "$member" in
        *.xz) ar p "$deb" "$member" | xz -dc > "$TMPDIR/data.$i.tar" ;;
        *.gz) ar p "$deb" "$member" | gzip -dc > "$TMPDIR/data.$i.tar" ;;
        *) echo "unsupported data member $member in $deb" >&2; false ;;
      esac || { touch "$TMPDIR/failed"; exit 1; }
    done
  ) &
  worker=$((worker + 1))
done
wait
[ ! -e "$TMPDIR/failed" ] || { echo "unpacking the toolchain's .debs failed" >&2; exit 1; }
i=0
for deb in $debs; do
  i=$((i + 1))
  tar -x -f "$TMPDIR/data.$i.tar"
  rm "$TMPDIR/data.$i.tar"
done
# Byte-compile the tool Python's standard library once, here: every builder runs with -B on
# a read-only store, so without these each derivation start recompiled tarfile, gzip, json
# and the rest (~0.16 s). unchecked-hash: the .pyc files hold no source mtime; a fixed hash
# seed: marshal writes set constants in hash order. Both make the output reproducible.
lib="$out/usr/lib/x86_64-linux-gnu"
PYTHONHASHSEED=0 "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$out/usr/bin/python3.11" -E -s \
  -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out/usr/lib/python3.11"
