// Runs a Python file under MicroPython (WebAssembly port) with the kit firmware importable.
//   node run.mjs FIRMWARE_DIR SCRIPT.py
// Prints what the script prints; exits 1 if it raised. Used by tests/test_firmware_micropython.py.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [firmwareDir, script] = process.argv.slice(2);
let failed = false;
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => { failed = true; process.stderr.write(line + "\n"); },
});
mp.FS.mkdir("/fw");
mp.FS.mkdir("/fw/citylab_fw");
for (const name of readdirSync(join(firmwareDir, "citylab_fw"))) {
  if (name.endsWith(".py")) {
    mp.FS.writeFile("/fw/citylab_fw/" + name, readFileSync(join(firmwareDir, "citylab_fw", name)));
  }
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/fw')\n" + readFileSync(script, "utf8"));
} catch (err) {
  failed = true;
  process.stderr.write(String(err.message || err) + "\n");
}
process.exit(failed ? 1 : 0);
