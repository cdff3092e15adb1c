// Copies the web console's static files (ts/server/console/public) next to the compiled
// server (dist/server/console/public), where ts/server/console/index.ts reads them: tsc
// copies only what it compiles.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', 'ts', 'server', 'console', 'public');
const to = path.join(__dirname, '..', 'dist', 'server', 'console', 'public');
fs.rmSync(to, { recursive: true, force: true });
fs.cpSync(from, to, { recursive: true });
