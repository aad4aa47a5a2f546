// Prints the Khronos glTF validator's report (JSON) for the .glb or .gltf named on the command line.
// The validator comes from npm (`npm install -g gltf-validator`); run with NODE_PATH="$(npm root -g)".
const fs = require("fs");
const validator = require("gltf-validator");

const path = process.argv[2];
validator
  .validateBytes(new Uint8Array(fs.readFileSync(path)), { uri: path, maxIssues: 100 })
  .then((report) => console.log(JSON.stringify(report)))
  .catch((error) => {
    console.error(`validator failed: ${error}`);
    process.exit(2);
  });
