# shellcheck shell=bash
# Node.js and the Roost application for the target architecture:
#  - node: the npm registry's node-linux-<x64|arm64> package (binary + headers), integrity-checked;
#  - app:  the compiled dist/ + bin/ + production node_modules (`npm ci --omit=dev`, scripts off);
#  - better-sqlite3, the one native addon: compiled against the target node's headers, with the
#    aarch64 cross compiler for arm64 (about 2.5 min here; compiling it inside the arm64 chroot
#    under qemu-user would first need gcc installed there and then run cc1 emulated). On an
#    amd64 host building amd64 the addon the repository's own `npm ci` compiled is reused when
#    it is the same version for the same Node ABI. Either way the customize step loads it with
#    the target node inside the rootfs (qemu-user for arm64) before the image is made.

node_pkg_arch() { case $1 in amd64) echo x64 ;; arm64) echo arm64 ;; esac; }

# fetch_node ARCH DESTDIR: DESTDIR/package/{bin/node,include/node,...}
fetch_node() {
  local arch=$1 dest=$2 name tgz want got
  name=node-linux-$(node_pkg_arch "$arch")
  local dl=${CACHE_DIR:-$WORK}/downloads
  mkdir -p "$dl"
  tgz=$dl/$name-$NODE_VERSION.tgz
  want=$(eval "echo \${NODE_INTEGRITY_$arch}")
  if [ ! -s "$tgz" ]; then
    (cd "$dl" && npm pack --silent "$name@$NODE_VERSION" >/dev/null) || die "npm pack $name@$NODE_VERSION failed"
  fi
  got=sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [ "$got" != "$want" ]; then
    rm -f "$tgz"
    die "$name@$NODE_VERSION: integrity $got does not match the pinned $want (images/versions.env)"
  fi
  safe_rm "$dest"
  mkdir -p "$dest"
  tar -xzf "$tgz" -C "$dest"
  [ -x "$dest/package/bin/node" ] || die "$tgz has no package/bin/node"
  log "node $NODE_VERSION for $arch: $tgz (integrity ok)"
}

# compile_roost REPO: the TypeScript build the image ships (incremental: quick when up to date).
compile_roost() {
  local repo=$1
  [ -x "$repo/node_modules/.bin/tsc" ] || die "the repository's dev dependencies are missing: run npm ci in $repo first"
  (cd "$repo" && ./node_modules/.bin/tsc -p tsconfig.json) || die "the TypeScript build failed (npx tsc -p tsconfig.json)"
  [ -f "$repo/dist/server/src/cli/main.js" ] || die "no dist/server/src/cli/main.js after the build"
}

# stage_app REPO DIR: DIR becomes /opt/roost (without the addon).
stage_app() {
  local repo=$1 s=$2 w
  safe_rm "$s"
  mkdir -p "$s/dist"
  cp "$repo/package.json" "$repo/package-lock.json" "$s/"
  for f in README.md roost.example.yaml; do [ -f "$repo/$f" ] && cp "$repo/$f" "$s/"; done
  cp -a "$repo/bin" "$s/bin"
  for w in server installer appliance; do
    cp -a "$repo/dist/$w" "$s/dist/$w"
    # npm ci needs every workspace's manifest to match the lockfile.
    mkdir -p "$s/$w" && cp "$repo/$w/package.json" "$s/$w/"
  done
  # --ignore-scripts: no install scripts at all (the root "prepare" would run tsc; the addon is
  # built below for the target, not for this machine).
  (cd "$s" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci --omit=dev failed in $s"
  # The workspaces' code is in dist/; their links and folders are not needed at run time.
  rm -rf "$s/node_modules/@roost" "$s/server" "$s/installer" "$s/appliance"
}

# node_gyp: npm's own copy (npm runs it for `npm rebuild`; no separate install needed).
node_gyp_js() {
  local cli
  cli=$(readlink -f "$(command -v npm)")
  local gyp
  gyp=$(dirname "$cli")/../node_modules/node-gyp/bin/node-gyp.js
  [ -f "$gyp" ] || die "cannot find npm's node-gyp next to $cli"
  echo "$gyp"
}

# build_addon ARCH APPDIR NODEDIR: APPDIR/node_modules/better-sqlite3/build/Release/better_sqlite3.node
build_addon() {
  local arch=$1 s=$2 nodedir=$3 mod ver abi cached out host_arch
  mod=$s/node_modules/better-sqlite3
  [ -f "$mod/package.json" ] || die "better-sqlite3 is not among the production dependencies any more: update images/lib/node-app.sh"
  ver=$(node -p "require('$mod/package.json').version")
  abi=$(awk '/^#define NODE_MODULE_VERSION [0-9]+/ { print $3 }' "$nodedir/include/node/node_version.h")
  out=$mod/build/Release/better_sqlite3.node
  cached=${CACHE_DIR:+$CACHE_DIR/addon/better_sqlite3-$ver-abi$abi-$arch.node}
  host_arch=$(dpkg --print-architecture)
  mkdir -p "$(dirname "$out")"
  local repo_mod=$REPO/node_modules/better-sqlite3
  if [ -n "$cached" ] && [ -s "$cached" ]; then
    cp "$cached" "$out"
    log "better-sqlite3 $ver ($arch, ABI $abi) from the cache"
  elif [ "$arch" = "$host_arch" ] && [ "${ROOST_IMAGE_BUILD_SQLITE:-0}" != 1 ] && [ -s "$repo_mod/build/Release/better_sqlite3.node" ] &&
    [ "$(node -p "require('$repo_mod/package.json').version")" = "$ver" ] && [ "$(node -p process.versions.modules)" = "$abi" ]; then
    cp "$repo_mod/build/Release/better_sqlite3.node" "$out"
    log "better-sqlite3 $ver ($arch, ABI $abi): reusing the repository's build (checked in the rootfs below)"
  else
    local gyp t0
    gyp=$(node_gyp_js)
    t0=$(now)
    (
      cd "$mod"
      if [ "$arch" = "$host_arch" ]; then
        node "$gyp" rebuild --release --nodedir="$nodedir" -j 2 >&2
      else
        [ "$arch" = arm64 ] || die "no cross compiler known for $arch"
        # Cross compile; gyp's host tools (none here) would use the native gcc.
        env CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
          CC_host=gcc CXX_host=g++ LINK_host=g++ AR_host=ar \
          node "$gyp" rebuild --release --arch=arm64 --nodedir="$nodedir" -j 2 >&2
      fi
    ) || die "building better-sqlite3 $ver for $arch failed"
    log "better-sqlite3 $ver compiled for $arch (ABI $abi) in $(elapsed "$t0") s"
  fi
  [ -s "$out" ] || die "no $out"
  if [ -n "$cached" ] && [ ! -s "$cached" ]; then mkdir -p "$(dirname "$cached")" && cp "$out" "$cached"; fi
  # Only the compiled addon is needed at run time (bindings looks in build/Release).
  local keep
  keep=$(mktemp)
  cp "$out" "$keep"
  rm -rf "$mod/build" "$mod/deps" "$mod/src"
  mkdir -p "$mod/build/Release"
  mv "$keep" "$out"
  chmod 0755 "$out"
}
