// Microsoft's Kusto.Language analyzer (npm @kusto/language-service-next) on the sigma-okta KQL queries.
// stdin: {"tables": [{"table": NAME, "columns": [[COLUMN, TYPE], ...]}], "queries": [TEXT, ...]}
// stdout: one JSON array per query, of its diagnostics ("KS142 Error <message> @<offset>").
"use strict";
const fs = require("fs");
const path = require("path");

const home = path.dirname(require.resolve("@kusto/language-service-next/package.json"));
global.Bridge = require(path.join(home, "bridge.js"));
require(path.join(home, "Kusto.Language.Bridge.js"));
const K = Kusto.Language;
const S = K.Symbols;

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const members = new (System.Collections.Generic.List$1(S.Symbol).ctor)();
for (const table of input.tables) {
  // the vendors' files spell column types as ARM does (dateTime, boolean); KQL's names are datetime, bool
  const kql = (type) => ({ datetime: "datetime", boolean: "bool" })[type.toLowerCase()] || type.toLowerCase();
  const schema = "(" + table.columns.map(([name, type]) => `['${name}']:${kql(type)}`).join(", ") + ")";
  members.add(new S.TableSymbol.$ctor7(table.table, schema, null));
}
const globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor1("workspace", members, false));

const out = [];
for (const query of input.queries) {
  const diagnostics = K.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const found = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    found.push(`${d.Code} ${d.Severity} ${d.Message} @${d.Start}`);
  }
  out.push(JSON.stringify(found));
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
