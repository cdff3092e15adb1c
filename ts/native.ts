/** The native binding: `binding.js` at the package root, which loads the binary through `loader.js` (version-checked, `@stratadb/<platform>` or the local build only). */
import binding = require('../binding');

export = binding;
