/** Loads the generated native binding (`binding.js` at the package root). */
import binding = require('../binding');

export = binding;
