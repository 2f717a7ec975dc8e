# Unpack the bootstrap .debs into $out with busybox alone (data.tar only, merged /usr), then
# byte-compile the tool Python's standard library.
$busybox/bin/busybox mkdir -p "$TMPDIR/bin"
$busybox/bin/busybox --install -s "$TMPDIR/bin"
export PATH="$TMPDIR/bin"
mkdir -p "$out/usr/bin" "$out/usr/sbin" "$out/usr/lib" "$out/usr/lib64"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$out/$d"; done
cd "$out"
for deb in $debs; do
  member=$(ar t "$deb" | grep '^data\.tar')
  case "$member" in
    *.xz) ar p "$deb" "$member" | xz -dc | tar -x ;;
    *.gz) ar p "$deb" "$member" | gzip -dc | tar -x ;;
    *) echo "unsupported data member $member in $deb" >&2; exit 1 ;;
  esac
done
# Byte-compile the tool Python's standard library once, here: every builder runs with -B on
# a read-only store, so without these each derivation start recompiled tarfile, gzip, json
# and the rest (~0.16 s). unchecked-hash: the .pyc files hold no source mtime; a fixed hash
# seed: marshal writes set constants in hash order. Both make the output reproducible.
lib="$out/usr/lib/x86_64-linux-gnu"
PYTHONHASHSEED=0 "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$out/usr/bin/python3.11" -E -s \
  -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out/usr/lib/python3.11"
