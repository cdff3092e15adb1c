#!/usr/bin/env node
'use strict';
// Re-renders the Markdown of a results JSON (default bench/results/latest.json) next to it,
// e.g. after a change to the report layout: `node bench/render.js [file.json]`. Query-section
// files (query-*.json, `"section": "query"`) get the query report.
const fs = require('node:fs');
const path = require('node:path');
const { renderMarkdown } = require('./lib/report');
const { renderQueryMarkdown } = require('./lib/query-report');

const file = process.argv[2] ?? path.join(__dirname, 'results', 'latest.json');
const report = JSON.parse(fs.readFileSync(file, 'utf8'));
const md = report.section === 'query' ? renderQueryMarkdown(report) : renderMarkdown(report);
fs.writeFileSync(file.replace(/\.json$/, '.md'), md);
process.stderr.write(`bench: wrote ${file.replace(/\.json$/, '.md')}\n`);
