#!/bin/sh
# Build the glusterd2 RPM with rpmbuild in a private _topdir; print the RPM's path.
#
# The source tarball is made from the WORKING TREE (tracked files plus untracked,
# not-ignored ones, as they are on disk), so uncommitted changes are packaged; set
# GD2_RPM_SOURCE=head to package the last commit with `git archive HEAD` instead.
# The wheel is built by $GD2_BUILD_PYTHON (default: the python3 first on PATH),
# which needs meson-python, meson, ninja and cffi: on a Debian host, the venv.
#
#   scripts/build-rpm.sh [OUTDIR]     (default OUTDIR: a new temp dir)
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
spec=$repo/packaging/rpm/glusterd2.spec
version=$(sed -n 's/^Version: *//p' "$spec")
python=${GD2_BUILD_PYTHON:-$(command -v python3)}
out=${1:-}

top=$(mktemp -d "${TMPDIR:-/tmp}/gd2-rpmbuild.XXXXXX")
trap 'rm -rf "$top"' EXIT
mkdir -p "$top/SOURCES" "$top/SPECS" "$top/BUILD" "$top/RPMS" "$top/SRPMS" "$top/BUILDROOT"
prefix=glusterd2-$version

cd "$repo"
if [ "${GD2_RPM_SOURCE:-worktree}" = head ]; then
    git archive --format=tar.gz --prefix="$prefix/" -o "$top/SOURCES/$prefix.tar.gz" HEAD
else
    git ls-files -z --cached --others --exclude-standard \
        | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar -czf "$top/SOURCES/$prefix.tar.gz" --null -T - --transform "s,^,$prefix/," --owner=0 --group=0
fi
cp "$spec" "$top/SPECS/"

# On a host whose packages are not in the rpm database (Debian: dpkg owns them) every
# BuildRequires looks missing; check nothing there and let the build itself fail instead.
nodeps=
rpm -q --quiet glibc 2>/dev/null || nodeps=--nodeps

rpmbuild -bb --quiet $nodeps \
    --define "_topdir $top" \
    --define "gd2_build_python $python" \
    "$top/SPECS/glusterd2.spec" >"$top/rpmbuild.log" 2>&1 || { cat "$top/rpmbuild.log" >&2; exit 1; }

rpm_file=$(find "$top/RPMS" -name 'glusterd2-*.rpm' | head -n 1)
[ -n "$rpm_file" ] || { cat "$top/rpmbuild.log" >&2; echo "build-rpm: no RPM produced" >&2; exit 1; }
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/gd2-rpm.XXXXXX")
mkdir -p "$out"
cp "$rpm_file" "$out/"
echo "$out/$(basename "$rpm_file")"
