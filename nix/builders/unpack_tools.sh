# Unpack the bootstrap .debs into $out with busybox alone (data.tar only, merged /usr).
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
