# The kit tests run the ESP32 firmware on real MicroPython: the WebAssembly
# port from npm, under Node.js. Installs Node if missing, then the pinned
# package (hardware/tools/mpy-wasm/package-lock.json) into its node_modules.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    as_root_apt nodejs npm || { say "the kit tests need Node.js and npm"; exit 1; }
fi
mpy_wasm="$ROOT/hardware/tools/mpy-wasm"
if [ ! -f "$mpy_wasm/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs" ]; then
    say "installing MicroPython for WebAssembly (npm) into $mpy_wasm/node_modules"
    (cd "$mpy_wasm" && npm ci --no-audit --no-fund --silent) ||
        { say "npm ci failed in $mpy_wasm: check the network or npm proxy and run again"; exit 1; }
fi
