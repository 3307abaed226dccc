//! The graph's web page: the server-rendered SVG at its natural size (it scrolls; browser zoom enlarges it),
//! a form picking the window and the picture's size (`?window=`, `?scale=`), the details of every node and
//! edge (a link in the picture shows them: CSS `:target` without script), a table of the edges (the same
//! numbers, for screen readers and copying), and one small inline script that reloads all of it every few
//! seconds and shows a clicked node's or edge's details in place. No build step, nothing from the internet.

use std::fmt::Write;

use super::model::{Edge, Graph, Node, WINDOWS, window_words};
use super::svg::{clock, edge_detail_id, node_detail_id, node_lines, node_title};

/// How often the page reloads the picture.
pub const REFRESH_MS: u32 = 5000;

/// The picture sizes the page offers (`?scale=`), in percent.
const SIZES: [u32; 5] = [75, 100, 125, 150, 200];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn joined(set: &std::collections::BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn codes(e: &Edge) -> String {
    let codes: Vec<String> = e.codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    codes.join(", ")
}

fn span(e: &Edge) -> String {
    match (&e.first, &e.last) {
        (Some(f), Some(l)) => format!("{} – {}", clock(f), clock(l)),
        _ => String::new(),
    }
}

/// The table of edges, the same numbers as the picture.
pub fn table(g: &Graph) -> String {
    let mut t = String::from(
        "<table id=\"edges\"><caption>Edges (requests so far; rate and health over the last ",
    );
    let _ = write!(
        t,
        "{})</caption><thead><tr><th scope=\"col\">from</th><th scope=\"col\">to</th>\
         <th scope=\"col\">requests</th><th scope=\"col\">errors</th><th scope=\"col\">req/s</th>\
         <th scope=\"col\">health</th><th scope=\"col\">codes (Envoy flags)</th><th scope=\"col\">why</th>\
         <th scope=\"col\">route</th><th scope=\"col\">cluster</th><th scope=\"col\">first – last</th></tr>\
         </thead><tbody>",
        window_words(g.window_seconds)
    );
    // In the order traffic first took each edge (the egress story: passthrough, then the ServiceEntry, …).
    let mut edges: Vec<&Edge> = g.edges.iter().collect();
    edges.sort_by(|a, b| a.first.cmp(&b.first));
    for e in edges {
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
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.health.word(),
            esc(&e.source),
            esc(&e.target),
            esc(&kind),
            e.requests,
            e.errors,
            e.rps,
            e.health.word(),
            esc(&codes(e)),
            esc(&e.why.join("; ")),
            esc(&joined(&e.routes)),
            esc(&joined(&e.clusters)),
            span(e),
        );
    }
    t.push_str("</tbody></table>");
    t
}

/// One `<dt>`/`<dd>` pair, left out when the value is empty.
fn row(out: &mut String, name: &str, value: &str) {
    if !value.is_empty() {
        let _ = write!(out, "<dt>{name}</dt><dd>{}</dd>", esc(value));
    }
}

/// An edge's details: both ends, counts, the window, codes, why in words, routes, clusters, times.
fn edge_details(e: &Edge, window_seconds: i64) -> String {
    let mut d = format!(
        "<article class=\"detail\" id=\"{}\"><h2>{} → {}{}</h2><dl>",
        edge_detail_id(e),
        esc(&e.source),
        esc(&e.target),
        if e.mirror { " (mirrored copies)" } else { "" }
    );
    row(
        &mut d,
        "requests",
        &format!("{} so far, {} errors", e.requests, e.errors),
    );
    row(
        &mut d,
        &format!("last {}", window_words(window_seconds)),
        &format!(
            "{} requests ({:.2}/s), {:.1}% errors: {}",
            e.window_requests,
            e.rps,
            e.error_pct,
            e.health.word()
        ),
    );
    row(&mut d, "codes", &codes(e));
    if !e.why.is_empty() {
        d.push_str("<dt>why</dt>");
        for w in &e.why {
            let _ = write!(d, "<dd class=\"why\">{}</dd>", esc(w));
        }
    }
    row(&mut d, "route", &joined(&e.routes));
    row(&mut d, "cluster", &joined(&e.clusters));
    row(&mut d, "via", e.via.name());
    if e.retries > 0 {
        row(&mut d, "retries", &e.retries.to_string());
    }
    row(&mut d, "first – last", &span(e));
    d.push_str("</dl></article>");
    d
}

/// A node's details: its lines, what it is, its requests in and out, and what is missing.
fn node_details(n: &Node, g: &Graph) -> String {
    let lines = node_lines(n);
    let mut d = format!(
        "<article class=\"detail\" id=\"{}\"><h2>{}</h2><dl>",
        node_detail_id(n),
        esc(&n.id)
    );
    row(&mut d, "kind", &n.kind);
    row(&mut d, "app", &n.app);
    row(&mut d, "version", n.version.as_deref().unwrap_or_default());
    row(&mut d, "state", lines.get(1).map_or("", String::as_str));
    row(&mut d, "missing", n.missing.as_deref().unwrap_or_default());
    row(&mut d, "summary", &node_title(n, g));
    d.push_str("</dl></article>");
    d
}

/// Every node's and edge's details (shown one at a time).
pub fn details(g: &Graph) -> String {
    let mut d = String::from("<a class=\"close\" href=\"#\">close ×</a>");
    for n in &g.nodes {
        d.push_str(&node_details(n, g));
    }
    for e in &g.edges {
        d.push_str(&edge_details(e, g.window_seconds));
    }
    d
}

/// The form choosing the window and the picture's size (a plain GET form: it works without script).
fn controls(window_seconds: i64, scale: f64) -> String {
    let mut f = String::from(
        "<form id=\"view\" method=\"get\" action=\"/\"><label>Window <select name=\"window\">",
    );
    for w in WINDOWS {
        let value = if w % 60 == 0 {
            format!("{}m", w / 60)
        } else {
            format!("{w}s")
        };
        let selected = if w == window_seconds { " selected" } else { "" };
        let _ = write!(
            f,
            "<option value=\"{value}\"{selected}>last {}</option>",
            window_words(w)
        );
    }
    f.push_str("</select></label> <label>Size <select name=\"scale\">");
    let percent = (scale * 100.0).round() as u32;
    let mut sizes: Vec<u32> = SIZES.to_vec();
    if !sizes.contains(&percent) {
        sizes.push(percent);
        sizes.sort_unstable();
    }
    for p in sizes {
        let selected = if p == percent { " selected" } else { "" };
        let _ = write!(
            f,
            "<option value=\"{}\"{selected}>{p} %</option>",
            f64::from(p) / 100.0
        );
    }
    f.push_str("</select></label> <button type=\"submit\">Show</button></form>");
    f
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; margin: 0; color: #151515; background: #fff; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.4em 1.2em; padding: 8px 16px; background: #151515; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header span { font-size: 14px; color: #d2d2d2; }
header form { font-size: 14px; }
header select, header button { font-size: 14px; }
#graph { padding: 8px 16px; overflow: auto; }
#graph svg { display: block; }
.details-link { cursor: pointer; }
#details .detail, #details .close { display: none; }
body:not(.js) #details .detail:target, #details .detail.shown { display: block; }
body:not(.js) #details:has(.detail:target) .close, #details:has(.shown) .close { display: block; }
#details { position: fixed; right: 16px; bottom: 16px; max-width: 460px; max-height: 50vh; overflow: auto; font-size: 14px; }
#details .detail { background: #fff; border: 2px solid #06c; border-radius: 6px; padding: 8px 12px; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
#details .close { text-align: right; background: #fff; padding: 2px 8px; }
#details h2 { font-size: 16px; margin: 0 0 6px; }
#details dt { font-weight: bold; }
#details dd { margin: 0 0 4px 12px; }
#details dd.why { color: #a30000; }
table { border-collapse: collapse; margin: 8px 16px 24px; font-size: 14px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #d2d2d2; padding: 3px 6px; text-align: left; }
tr.failure td:nth-child(6) { color: #a30000; font-weight: bold; }
tr.degraded td:nth-child(6) { color: #795600; font-weight: bold; }
";

/// Reloads the picture, the table and the details every few seconds (keeping the window and size), and shows
/// a clicked node's or edge's details (the link's `#d-…`), again after each reload.
const SCRIPT: &str = "
document.body.classList.add('js');
function show(id) {
  for (const d of document.querySelectorAll('#details .shown')) d.classList.remove('shown');
  const d = id && document.getElementById(id);
  if (d) d.classList.add('shown');
  history.replaceState(null, '', location.pathname + location.search + (d ? '#' + id : ''));
}
document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[href^=\"#\"]');
  if (a) { ev.preventDefault(); show(a.getAttribute('href').slice(1)); }
});
document.querySelector('#view').addEventListener('change', (ev) => ev.currentTarget.submit());
async function reload() {
  try {
    const r = await fetch(location.pathname + location.search, {cache: 'no-store'});
    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    for (const id of ['graph', 'table', 'details', 'updated']) {
      document.getElementById(id).innerHTML = doc.getElementById(id).innerHTML;
    }
  } catch (e) {
    document.getElementById('updated').textContent = 'the lab does not answer: ' + e;
  }
  show(location.hash.slice(1));
}
show(location.hash.slice(1));
";

/// The whole page at the picture's natural size.
pub fn render(g: &Graph) -> String {
    render_scaled(g, 1.0)
}

/// The whole page, the picture `scale` times its natural size.
pub fn render_scaled(g: &Graph, scale: f64) -> String {
    let svg = super::svg::render_scaled(g, scale);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>mesh-lab graph</title><style>{STYLE}</style></head><body>\
         <header><h1>Traffic graph of the local mesh</h1>{}<span id=\"updated\">from the proxies' access logs, \
         {}{}; reloads every {} s</span></header>\
         <main><div id=\"graph\">{svg}</div><aside id=\"details\" aria-live=\"polite\">{}</aside>\
         <div id=\"table\">{}</div></main>\
         <script>{SCRIPT}setInterval(reload, {REFRESH_MS});\n</script></body></html>\n",
        controls(g.window_seconds, scale),
        esc(&g.generated_at),
        g.since.as_deref().map_or_else(String::new, |s| format!(
            " (requests since {}: the lab's start or its last reset)",
            clock(s)
        )),
        REFRESH_MS / 1000,
        details(g),
        table(g)
    )
}
