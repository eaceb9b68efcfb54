//! The model diagram Keras' `plot_model(show_shapes=True)` draws, without Graphviz: one
//! box per layer (name, type, activation, input and output shapes, parameters) and arrows
//! between them, as SVG, as PNG (drawn here, in the bundled font) or as Graphviz DOT.

use std::path::Path;

use imageproc::drawing::{draw_line_segment_mut, draw_polygon_mut};
use imageproc::point::Point;

use super::render::{Canvas, BLACK};
use crate::checkpoint::write_atomic;
use crate::error::Result;
use crate::model::summary::{group, shape_text, LayerInfo};
use crate::model::{Arch, NetSpec, Network};

/// Top-to-bottom or left-to-right, as Graphviz' `rankdir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RankDir {
    #[value(name = "TB")]
    Tb,
    #[value(name = "LR")]
    Lr,
}

const BOX_W: u32 = 300;
const BOX_H: u32 = 84;
const GAP: u32 = 44;
const MARGIN: u32 = 20;
const LINE: u32 = 17;

/// The input node plus every layer: (title, lines of text).
fn nodes(arch: Arch) -> Vec<(String, Vec<String>)> {
    let net = network(arch);
    let all = net.rows();
    let mut out = vec![(
        "input: InputLayer".to_string(),
        vec![format!("output: {}", shape_text(&all[0].input_shape)), net.input_note.to_string()],
    )];
    out.extend(all.iter().map(|l: &LayerInfo| {
        let act = if l.activation.is_empty() { String::new() } else { format!(", {}", l.activation) };
        (
            format!("{}: {}{act}", l.name, l.kind),
            vec![
                format!("input: {}", shape_text(&l.input_shape)),
                format!("output: {}", shape_text(&l.output_shape)),
                format!("params: {}{}", group(l.params), if l.trainable { "" } else { " (fixed)" }),
            ],
        )
    }));
    out
}

/// Top-left corner of node `i`, and the canvas size.
fn geometry(n: usize, dir: RankDir) -> (Vec<(u32, u32)>, (u32, u32)) {
    let pos: Vec<(u32, u32)> = (0..n as u32)
        .map(|i| match dir {
            RankDir::Tb => (MARGIN, MARGIN + i * (BOX_H + GAP)),
            RankDir::Lr => (MARGIN + i * (BOX_W + GAP), MARGIN),
        })
        .collect();
    let n = n as u32;
    let size = match dir {
        RankDir::Tb => (BOX_W + 2 * MARGIN, n * BOX_H + (n - 1) * GAP + 2 * MARGIN),
        RankDir::Lr => (n * BOX_W + (n - 1) * GAP + 2 * MARGIN, BOX_H + 2 * MARGIN),
    };
    (pos, size)
}

/// Start and end of the arrow from node i to node i + 1.
fn arrow(a: (u32, u32), b: (u32, u32), dir: RankDir) -> ((f32, f32), (f32, f32)) {
    match dir {
        RankDir::Tb => (((a.0 + BOX_W / 2) as f32, (a.1 + BOX_H) as f32), ((b.0 + BOX_W / 2) as f32, b.1 as f32)),
        RankDir::Lr => (((a.0 + BOX_W) as f32, (a.1 + BOX_H / 2) as f32), (b.0 as f32, (b.1 + BOX_H / 2) as f32)),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn network(arch: Arch) -> Network {
    NetSpec { arch, ..Default::default() }.network()
}

fn title(arch: Arch) -> &'static str {
    network(arch).title
}

pub fn svg(arch: Arch, dir: RankDir) -> String {
    let nodes = nodes(arch);
    let (pos, (w, h)) = geometry(nodes.len(), dir);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"DejaVu Sans, sans-serif\">\n<title>{}</title>\n\
         <defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">\
         <path d=\"M0,0 L10,4 L0,8 z\" fill=\"black\"/></marker></defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        title(arch)
    );
    for (i, ((title, lines), &(x, y))) in nodes.iter().zip(&pos).enumerate() {
        out += &format!("<g id=\"node{i}\">\n<rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"#eef3fb\" stroke=\"black\"/>\n");
        out += &format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
            x + 10,
            y + 20,
            escape(title)
        );
        for (j, line) in lines.iter().enumerate() {
            out += &format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>\n",
                x + 10,
                y + 20 + (j as u32 + 1) * LINE,
                escape(line)
            );
        }
        out += "</g>\n";
    }
    for i in 0..nodes.len() - 1 {
        let ((x1, y1), (x2, y2)) = arrow(pos[i], pos[i + 1], dir);
        out += &format!("<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"black\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n");
    }
    out + "</svg>\n"
}

pub fn png(arch: Arch, dir: RankDir) -> Canvas {
    let nodes = nodes(arch);
    let (pos, (w, h)) = geometry(nodes.len(), dir);
    let mut c = Canvas::new(w, h);
    for ((title, lines), &(x, y)) in nodes.iter().zip(&pos) {
        c.fill(x as i32, y as i32, BOX_W, BOX_H, image::Rgb([238, 243, 251]));
        c.frame(x as i32, y as i32, BOX_W, BOX_H, BLACK);
        c.text(x as i32 + 10, y as i32 + 6, 15.0, BLACK, title);
        for (j, line) in lines.iter().enumerate() {
            c.text(x as i32 + 10, (y + 8 + (j as u32 + 1) * LINE) as i32, 13.5, BLACK, line);
        }
    }
    for i in 0..nodes.len() - 1 {
        let ((x1, y1), (x2, y2)) = arrow(pos[i], pos[i + 1], dir);
        draw_line_segment_mut(&mut c.image, (x1, y1), (x2, y2), BLACK);
        let head = match dir {
            RankDir::Tb => [
                Point::new(x2 as i32, y2 as i32),
                Point::new(x2 as i32 - 5, y2 as i32 - 9),
                Point::new(x2 as i32 + 5, y2 as i32 - 9),
            ],
            RankDir::Lr => [
                Point::new(x2 as i32, y2 as i32),
                Point::new(x2 as i32 - 9, y2 as i32 - 5),
                Point::new(x2 as i32 - 9, y2 as i32 + 5),
            ],
        };
        draw_polygon_mut(&mut c.image, &head, BLACK);
    }
    c
}

/// Graphviz DOT, for people who do want Graphviz.
pub fn dot(arch: Arch, dir: RankDir) -> String {
    let rank = match dir {
        RankDir::Tb => "TB",
        RankDir::Lr => "LR",
    };
    let name = arch.checkpoint_name().replace('-', "_");
    let mut out = format!("digraph {name} {{\n  rankdir={rank};\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"DejaVu Sans\"];\n");
    let nodes = nodes(arch);
    for (i, (title, lines)) in nodes.iter().enumerate() {
        let label = std::iter::once(title.clone()).chain(lines.iter().cloned()).collect::<Vec<_>>().join("\\n");
        out += &format!("  n{i} [label=\"{}\"];\n", label.replace('"', "\\\""));
    }
    for i in 0..nodes.len() - 1 {
        out += &format!("  n{i} -> n{};\n", i + 1);
    }
    out + "}\n"
}

/// Writes `<stem>.svg` and `<stem>.png`, or `<stem>.dot` alone; returns the paths.
pub fn write_diagram(arch: Arch, stem: &Path, dir: RankDir, dot_only: bool) -> Result<Vec<std::path::PathBuf>> {
    if dot_only {
        let path = stem.with_extension("dot");
        write_atomic(&path, dot(arch, dir).as_bytes())?;
        return Ok(vec![path]);
    }
    let svg_path = stem.with_extension("svg");
    write_atomic(&svg_path, svg(arch, dir).as_bytes())?;
    let png_path = stem.with_extension("png");
    png(arch, dir).save(&png_path)?;
    Ok(vec![svg_path, png_path])
}
