#!/usr/bin/env bash
# Fails when a C++ file of ours is not formatted per the repository's .clang-format.
# Lists the offending files; `tools/dev.sh format` fixes them. Works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
clang_format="${CLANG_FORMAT:-clang-format}"
folders=(actors protocols routing storage supervisor tools tests)

if ! command -v "$clang_format" >/dev/null; then
  echo "format: $clang_format not found (apt-get install clang-format)" >&2
  exit 2
fi

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked and new-but-not-ignored files, so a file not yet added is checked too.
  while IFS= read -r -d '' f; do
    case "$f" in
      *.hpp | *.cpp) [ -f "$f" ] && files+=("$f") ;; # -f: skip files deleted but still in the index
    esac
  done < <(git ls-files -z --cached --others --exclude-standard -- "${folders[@]}" | sort -zu)
else
  existing=()
  for d in "${folders[@]}"; do
    [ -d "$d" ] && existing+=("$d")
  done
  if [ "${#existing[@]}" -gt 0 ]; then
    while IFS= read -r -d '' f; do
      files+=("${f#./}")
    done < <(find "${existing[@]}" \( -name node_modules -o -name 'build*' \) -prune -o \
               -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0 | sort -z)
  fi
fi

if [ "${#files[@]}" -eq 0 ]; then
  echo "format: ok (0 files)"
  exit 0
fi

status=0
output="$(printf '%s\0' "${files[@]}" | xargs -0 "$clang_format" --dry-run --Werror 2>&1)" \
  || status=$?
if [ "$status" -eq 0 ]; then
  echo "format: ok (${#files[@]} files)"
  exit 0
fi

# clang-format reports "path:line:col: error: code should be clang-formatted"; one line per file.
offenders="$(printf '%s\n' "$output" \
  | sed -n -E 's/^(.+\.(hpp|cpp)):[0-9]+:[0-9]+: (error|warning): .*/\1/p' | sort -u)"
if [ -z "$offenders" ]; then
  # clang-format itself failed (bad .clang-format, unreadable file): show why.
  printf '%s\n' "$output" >&2
  echo "format: clang-format failed (exit $status)" >&2
  exit 1
fi
echo "format: $(printf '%s\n' "$offenders" | wc -l) file(s) not clang-formatted:" >&2
printf '%s\n' "$offenders" | sed 's/^/  /' >&2
echo "fix with: tools/dev.sh format (or clang-format -i FILE...)" >&2
exit 1
