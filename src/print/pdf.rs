//! Drawing a layout into a PDF: every page's ink, its QR code and the per-copy serial line.
//!
//! Layout coordinates are millimetres from the top-left, y down; PDF's are points from the
//! bottom-left, y up. `Flip` is the one place that converts.
//!
//! Size: a print run is `copies × pages` PDF pages. The page's fixed ink (tables, text) is
//! the same on every copy, so it is written once per layout page as a form XObject and each
//! printed page only adds `Do`, its QR modules and its serial (see `share_page_ink`). The font
//! is one resource of the document, so it is embedded (subset) once however many copies.

use super::font::Font;
use super::PrintError;
use crate::code::{PageCode, QUIET_MODULES};
use crate::layout::{Ink, Layout, PageLayout};
use crate::units::{mm_to_pt, RectMm, SizeMm};
use printpdf::{
    Color, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, TextItem,
};

/// Size of the serial line: small, it is for the clerk, not the respondent.
const SERIAL_PT: f64 = 8.0;
/// Label in front of the serial.
const SERIAL_LABEL: &str = "编号";

/// Layout millimetres (top-left origin) → PDF points (bottom-left origin).
#[derive(Clone, Copy)]
struct Flip {
    page_h: f64,
}

impl Flip {
    fn point(self, x: f64, y: f64) -> Point {
        Point {
            x: Pt(mm_to_pt(x) as f32),
            y: Pt(mm_to_pt(self.page_h - y) as f32),
        }
    }

    fn rect(self, r: RectMm, mode: PaintMode) -> Rect {
        Rect {
            x: Pt(mm_to_pt(r.x) as f32),
            y: Pt(mm_to_pt(self.page_h - r.bottom()) as f32),
            width: Pt(mm_to_pt(r.w) as f32),
            height: Pt(mm_to_pt(r.h) as f32),
            mode: Some(mode),
            winding_order: None,
        }
    }
}

fn black() -> Color {
    Color::Greyscale(Greyscale {
        percent: 0.0,
        icc_profile: None,
    })
}

fn text_ops(ops: &mut Vec<Op>, font: &FontId, flip: Flip, x: f64, y: f64, size: f64, text: &str) {
    ops.extend([
        Op::StartTextSection,
        Op::SetFont {
            font: PdfFontHandle::External(font.clone()),
            size: Pt(size as f32),
        },
        Op::SetTextCursor {
            pos: flip.point(x, y),
        },
        Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        },
        Op::EndTextSection,
    ]);
}

/// The fixed ink of a page (everything but code and serial).
fn ink_ops(page: &PageLayout, font: &FontId, flip: Flip) -> Vec<Op> {
    let mut ops = vec![
        Op::SetFillColor { col: black() },
        Op::SetOutlineColor { col: black() },
    ];
    for ink in &page.ink {
        match ink {
            Ink::Line {
                x1,
                y1,
                x2,
                y2,
                width,
            } => {
                ops.push(Op::SetOutlineThickness {
                    pt: Pt(mm_to_pt(*width) as f32),
                });
                let p = |x, y| LinePoint {
                    p: flip.point(x, y),
                    bezier: false,
                };
                ops.push(Op::DrawLine {
                    line: Line {
                        points: vec![p(*x1, *y1), p(*x2, *y2)],
                        is_closed: false,
                    },
                });
            }
            Ink::Frame { rect, width } => {
                // The layout's rect is the outline's outer edge: stroke along the inset centre line.
                ops.push(Op::SetOutlineThickness {
                    pt: Pt(mm_to_pt(*width) as f32),
                });
                ops.push(Op::DrawRectangle {
                    rectangle: flip.rect(rect.inset(width / 2.0), PaintMode::Stroke),
                });
            }
            Ink::Fill { rect } => ops.push(Op::DrawRectangle {
                rectangle: flip.rect(*rect, PaintMode::Fill),
            }),
            Ink::Text { x, y, size, text } => text_ops(&mut ops, font, flip, *x, *y, *size, text),
        }
    }
    ops
}

/// The QR code filling `code` (quiet zone inside), dark runs of each row merged into one rect.
fn code_ops(code: &PageCode, box_mm: RectMm, flip: Flip) -> Result<Vec<Op>, PrintError> {
    let (n, dark) = code.modules()?;
    let module = box_mm.w.min(box_mm.h) / (n + 2 * QUIET_MODULES) as f64;
    let x0 = box_mm.x + module * QUIET_MODULES as f64;
    let y0 = box_mm.y + module * QUIET_MODULES as f64;
    let mut ops = Vec::new();
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if !dark[row * n + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && dark[row * n + col] {
                col += 1;
            }
            let r = RectMm::new(
                x0 + module * start as f64,
                y0 + module * row as f64,
                module * (col - start) as f64,
                module,
            );
            ops.push(Op::DrawRectangle {
                rectangle: flip.rect(r, PaintMode::Fill),
            });
        }
    }
    Ok(ops)
}

/// Refuse to print what would come out as empty boxes.
fn check_glyphs(layout: &Layout, serials: &[String], font: &Font) -> Result<(), PrintError> {
    let mut text = String::from(SERIAL_LABEL);
    for p in &layout.pages {
        for ink in &p.ink {
            if let Ink::Text { text: t, .. } = ink {
                text.push_str(t);
            }
        }
    }
    serials.iter().for_each(|s| text.push_str(s));
    let chars = font.missing(&text);
    if chars.is_empty() {
        Ok(())
    } else {
        Err(PrintError::MissingGlyphs {
            path: font.path.clone(),
            chars,
        })
    }
}

fn page_size(size: SizeMm) -> (Mm, Mm) {
    (Mm(size.w as f32), Mm(size.h as f32))
}

/// Render `layout` once per serial (each copy = all layout pages) into a PDF.
pub fn render_pdf(layout: &Layout, serials: &[String], font: &Font) -> Result<Vec<u8>, PrintError> {
    check_glyphs(layout, serials, font)?;
    let mut doc = PdfDocument::new(&layout.title);
    let font_id = doc.add_font(&font.parsed);
    let flip = Flip {
        page_h: layout.size.h,
    };
    let (w, h) = page_size(layout.size);

    // Template pages first (their ink is lifted into XObjects afterwards), then the copies.
    let mut pages: Vec<PdfPage> = layout
        .pages
        .iter()
        .map(|p| PdfPage::new(w, h, ink_ops(p, &font_id, flip)))
        .collect();
    for serial in serials {
        for p in &layout.pages {
            let code = PageCode {
                form: layout.form.clone(),
                layout_hash: layout.hash.clone(),
                page: p.number,
                serial: serial.clone(),
            };
            let mut ops = vec![Op::SetFillColor { col: black() }];
            ops.extend(code_ops(&code, p.code, flip)?);
            let line = format!("{SERIAL_LABEL} {serial}");
            text_ops(
                &mut ops,
                &font_id,
                flip,
                p.serial_at.x,
                p.serial_at.y,
                SERIAL_PT,
                &line,
            );
            pages.push(PdfPage::new(w, h, ops));
        }
    }
    doc.with_pages(pages);
    let mut warnings = Vec::new();
    let bytes = doc.save(&PdfSaveOptions::default(), &mut warnings);
    super::share::share_page_ink(&bytes, layout.pages.len())
}
