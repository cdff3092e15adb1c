// Hand-kept (not generated): loads the native binary through ./loader.js, which only ever
// requires this package's local build or its own `@stratadb/<platform>` package, and always
// checks that the binary's version is this package's. Types: binding.d.ts (generated).
'use strict';
module.exports = require('./loader.js').loadBinding({ root: __dirname });
