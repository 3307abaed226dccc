//! The graph's web page: the server-rendered SVG, a table of the edges (the same numbers, for screen
//! readers and copying), and one small inline script that reloads both every few seconds. No build step,
//! nothing from the internet.

use std::fmt::Write;

use super::model::Graph;

/// How often the page reloads the picture.
pub const REFRESH_MS: u32 = 5000;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The table of edges, the same numbers as the picture.
pub fn table(g: &Graph) -> String {
    let mut t = String::from(
        "<table id=\"edges\"><caption>Edges (requests so far; rate and health over the last ",
    );
    let _ = write!(
        t,
        "{} s)</caption><thead><tr><th scope=\"col\">from</th><th scope=\"col\">to</th>\
         <th scope=\"col\">requests</th><th scope=\"col\">errors</th><th scope=\"col\">req/s</th>\
         <th scope=\"col\">health</th><th scope=\"col\">codes (Envoy flags)</th><th scope=\"col\">route</th>\
         <th scope=\"col\">cluster</th><th scope=\"col\">first – last</th></tr></thead><tbody>",
        g.window_seconds
    );
    // In the order traffic first took each edge (the egress story: passthrough, then the ServiceEntry, …).
    let mut edges: Vec<&super::model::Edge> = g.edges.iter().collect();
    edges.sort_by(|a, b| a.first.cmp(&b.first));
    for e in edges {
        let codes: Vec<String> = e.codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        let kind = if e.mirror {
            " (mirror)".to_owned()
        } else if e.retries > 0 {
            format!(" (+{} retries)", e.retries)
        } else {
            String::new()
        };
        let _ = write!(
            t,
            "<tr class=\"{}\"><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            e.health.word(),
            esc(&e.source),
            esc(&e.target),
            esc(&kind),
            e.requests,
            e.errors,
            e.rps,
            e.health.word(),
            esc(&codes.join(", ")),
            esc(&e.routes.iter().cloned().collect::<Vec<_>>().join(", ")),
            esc(&e.clusters.iter().cloned().collect::<Vec<_>>().join(", ")),
            match (&e.first, &e.last) {
                (Some(f), Some(l)) =>
                    format!("{} – {}", super::svg::clock(f), super::svg::clock(l)),
                _ => String::new(),
            },
        );
    }
    t.push_str("</tbody></table>");
    t
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; margin: 0; color: #151515; background: #fff; }
header { display: flex; align-items: baseline; gap: 1.2em; padding: 8px 16px; background: #151515; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header span { font-size: 13px; color: #d2d2d2; }
#graph { padding: 8px 16px; overflow: auto; }
#graph svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 16px 24px; font-size: 12px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #d2d2d2; padding: 3px 6px; text-align: left; }
tr.failure td:nth-child(6) { color: #a30000; font-weight: bold; }
tr.degraded td:nth-child(6) { color: #795600; font-weight: bold; }
";

/// The whole page.
pub fn render(g: &Graph) -> String {
    let svg = super::svg::render(g);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>mesh-lab graph</title><style>{STYLE}</style></head><body>\
         <header><h1>Traffic graph of the local mesh</h1><span id=\"updated\">from the proxies' access logs, \
         {}; reloads every {} s</span></header>\
         <main><div id=\"graph\">{svg}</div><div id=\"table\">{}</div></main>\
         <script>\n\
         // Reload the server-rendered picture and table every few seconds.\n\
         async function reload() {{\n\
           try {{\n\
             const r = await fetch('/', {{cache: 'no-store'}});\n\
             const doc = new DOMParser().parseFromString(await r.text(), 'text/html');\n\
             for (const id of ['graph', 'table', 'updated']) {{\n\
               document.getElementById(id).innerHTML = doc.getElementById(id).innerHTML;\n\
             }}\n\
           }} catch (e) {{\n\
             document.getElementById('updated').textContent = 'the lab does not answer: ' + e;\n\
           }}\n\
         }}\n\
         setInterval(reload, {REFRESH_MS});\n\
         </script></body></html>\n",
        esc(&g.generated_at),
        REFRESH_MS / 1000,
        table(g)
    )
}
