#!/usr/bin/env bash
# The main job, with the libstore command line: back a directory up, list the backup,
# restore it elsewhere and verify every byte.
#
#   bash contrib/cli_roundtrip.sh                     # a generated sample tree, embedded local store
#   bash contrib/cli_roundtrip.sh --source DIR        # back up DIR instead
#   bash contrib/cli_roundtrip.sh --store s3://BUCKET # an S3 server (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID…)
#
# The default store is the embedded local driver in a temporary directory: no account and
# no server. LIBSTORE="python -m libstore" runs the CLI from a checkout without installing it.
# Exit status 0 means every file came back byte for byte.
set -euo pipefail

LIBSTORE=${LIBSTORE:-libstore}
source_dir=""
store=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --source) source_dir=${2:?--source needs a directory}; shift 2 ;;
        --store) store=${2:?--store needs a bucket URL}; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "cli_roundtrip: unknown argument: $1" >&2; exit 2 ;;
    esac
done

cli() { $LIBSTORE "$@"; }
step() { printf '\n== %s\n' "$*"; }
sha_tree() {  # "sha256  ./relative/path" for every file below $1, sorted
    local hasher=(sha256sum)
    command -v sha256sum >/dev/null || hasher=(shasum -a 256)
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 "${hasher[@]}")
}

work=$(mktemp -d "${TMPDIR:-/tmp}/libstore-roundtrip.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ -z "$source_dir" ]]; then
    source_dir="$work/source"
    mkdir -p "$source_dir/docs" "$source_dir/data" "$source_dir/deep/a/b/c" "$source_dir/odd"
    printf 'libstore backup sample\n' > "$source_dir/README.txt"
    : > "$source_dir/empty.bin"
    for i in $(seq 1 100); do printf '# notes %d\n' "$i"; done > "$source_dir/docs/notes with spaces.md"
    printf 'h\xc3\xa9llo w\xc3\xb6rld\n' > "$source_dir/docs/unicode-日本語.txt"
    head -c 1048576 /dev/urandom > "$source_dir/data/random-1MiB.bin"
    head -c 12582929 /dev/urandom > "$source_dir/data/random-12MiB.bin"  # several parts
    printf 'leaf\n' > "$source_dir/deep/a/b/c/leaf.txt"
    printf 'odd names survive\n' > "$source_dir/odd/plus+percent%hash#.txt"
fi
[[ -d "$source_dir" ]] || { echo "cli_roundtrip: $source_dir is not a directory" >&2; exit 2; }

if [[ -z "$store" ]]; then
    export LIBSTORE_LOCAL_ROOT="$work/store"
    store="local://backups"
fi
store=${store%/}
snapshot="$store/$(date -u +%Y%m%dT%H%M%SZ)-$$"

step "make the bucket: libstore mb $store"
created=$(cli mb --exist-ok --json "$store")
echo "$created"

step "back up: libstore sync $source_dir $snapshot/files/"
cli sync --jobs 4 "$source_dir" "$snapshot/files/"

step "stream a tar of it: tar c | libstore cp - $snapshot/files.tar"
tar -C "$source_dir" -cf - . | cli cp - "$snapshot/files.tar"

step "list the backup: libstore ls -r -H --summarize $snapshot/"
cli ls -r -H --summarize "$snapshot/"

step "sync again: nothing may be transferred"
again=$(cli sync --json "$source_dir" "$snapshot/files/")
echo "$again"
if grep -q '"action": "upload"' <<<"$again"; then
    echo "FAILED: an unchanged tree was uploaded again" >&2
    exit 1
fi

step "restore: libstore sync $snapshot/files/ $work/restore"
cli sync --jobs 4 "$snapshot/files/" "$work/restore"

step "restore the tar: libstore cp $snapshot/files.tar - | tar x"
mkdir "$work/restore-tar"
cli cp "$snapshot/files.tar" - | tar -C "$work/restore-tar" -xf -

step "verify every byte (SHA-256 of every file)"
sha_tree "$source_dir" > "$work/source.sha256"
sha_tree "$work/restore" > "$work/restore.sha256"
sha_tree "$work/restore-tar" > "$work/restore-tar.sha256"
status=0
for copy in restore restore-tar; do
    if ! cmp -s "$work/source.sha256" "$work/$copy.sha256"; then
        echo "FAILED: $copy differs from the source:" >&2
        diff "$work/source.sha256" "$work/$copy.sha256" >&2 || true
        status=1
    fi
done

step "clean up: libstore rm -r --force $snapshot/"
cli rm -r --force --quiet "$snapshot/"
if grep -q '"result": "created"' <<<"$created"; then
    cli rb "$store"
fi

files=$(wc -l < "$work/source.sha256")
if [[ $status -eq 0 ]]; then
    echo "OK: $files files backed up to $store, listed, restored twice (sync and tar stream); every byte verified"
else
    echo "FAILED: see above" >&2
fi
exit $status
