//! A batch with every flag kind, built through the real store API on real page images
//! (the layout rasterised, ticks drawn where the reading says), for the review tests.
#![allow(dead_code)]

use image::GrayImage;
use pingyi::campaign::Campaign;
use pingyi::code::PageCode;
use pingyi::folder::{CampaignFolder, PrintRecord};
use pingyi::layout::{layout, Layout};
use pingyi::raster;
use pingyi::read::outcome::*;
use pingyi::store::{PageRecord, Store};
use pingyi::units::RectMm;
use std::path::{Path, PathBuf};

/// 100 dpi keeps pages small (A4 = 827 × 1169 px) and still shows a 5 mm box as 20 px.
pub const DPI: f64 = 100.0;
pub const EVIL_NAME: &str = "<script>alert(1)</script>";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub campaign: PathBuf,
    pub batch: PathBuf,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn px(r: RectMm) -> [u32; 4] {
    let s = raster::px_per_mm(DPI);
    [
        (r.x * s) as u32,
        (r.y * s) as u32,
        (r.w * s) as u32,
        (r.h * s) as u32,
    ]
}

fn tick(img: &mut GrayImage, r: RectMm, faint: bool) {
    let s = raster::px_per_mm(DPI);
    let (x, y, w, h) = (r.x * s, r.y * s, r.w * s, r.h * s);
    let ink = if faint { 150 } else { 30 };
    let width = if faint { 1.0 } else { 2.5 };
    if faint {
        raster::stroke(
            img,
            (x + w * 0.4, y + h * 0.5),
            (x + w * 0.55, y + h * 0.6),
            width,
            ink,
        );
    } else {
        raster::stroke(
            img,
            (x + w * 0.2, y + h * 0.5),
            (x + w * 0.45, y + h * 0.8),
            width,
            ink,
        );
        raster::stroke(
            img,
            (x + w * 0.45, y + h * 0.8),
            (x + w * 0.85, y + h * 0.15),
            width,
            ink,
        );
    }
}

/// How one question is filled in.
#[derive(Clone, Copy)]
enum Fill {
    One(usize),
    Faint(usize),
    Two(usize, usize),
}

struct Built {
    reading: PageReading,
    image: GrayImage,
}

/// Read a page the way the reader would conclude, from `fills` per question index.
fn page(l: &Layout, serial: &str, fill: impl Fn(usize) -> Fill) -> Built {
    let p = &l.pages[0];
    let code = PageCode {
        form: l.form.clone(),
        layout_hash: l.hash.clone(),
        page: 1,
        serial: serial.to_string(),
    };
    let mut image = raster::render_page(l.size, p, Some(&code), DPI).unwrap();
    let questions = l.questions();
    let mut cells = Vec::new();
    let mut qs = Vec::new();
    let mut flags = Vec::new();
    for (qi, (q, options)) in questions.iter().enumerate() {
        let f = fill(qi);
        let layout_cells: Vec<_> = p.cells.iter().filter(|c| &c.question == q).collect();
        let mut marked = Vec::new();
        let mut marginal = false;
        for (oi, c) in layout_cells.iter().enumerate() {
            let (score, class) = match f {
                Fill::One(k) | Fill::Two(k, _) if oi == k % options.len() => {
                    (0.31, CellClass::Marked)
                }
                Fill::Two(_, k) if oi == k % options.len() => (0.27, CellClass::Marked),
                Fill::Faint(k) if oi == k % options.len() => (0.06, CellClass::Marginal),
                _ => (0.012, CellClass::Empty),
            };
            match class {
                CellClass::Marked => {
                    tick(&mut image, c.tick, false);
                    marked.push(c.option.clone());
                }
                CellClass::Marginal => {
                    tick(&mut image, c.tick, true);
                    marginal = true;
                }
                CellClass::Empty => {}
            }
            cells.push(CellReading {
                question: q.clone(),
                option: c.option.clone(),
                score,
                class,
                px: px(c.tick),
            });
        }
        let c0 = layout_cells[0];
        let state = if marginal {
            flags.push(Flag {
                kind: FlagKind::Marginal,
                target: Some(q.clone()),
                detail: format!("a box of {q} is faint (score 0.060, between 0.04 and 0.10)"),
                urgency: 0.02 + qi as f32 * 0.001,
            });
            QuestionState::Ambiguous
        } else if marked.len() > 1 {
            flags.push(Flag {
                kind: FlagKind::Overvote,
                target: Some(q.clone()),
                detail: format!("{q} has {} ticks", marked.len()),
                urgency: 0.0,
            });
            QuestionState::Overvote
        } else if marked.len() == 1 {
            QuestionState::Answer
        } else {
            QuestionState::Blank
        };
        qs.push(QuestionReading {
            question: q.clone(),
            subject: c0.subject.clone(),
            item: c0.item.clone(),
            state,
            option: if state == QuestionState::Answer {
                marked.first().cloned()
            } else {
                None
            },
        });
    }
    let names = p
        .names
        .iter()
        .map(|n| NameReading {
            subject: n.subject.clone(),
            printed: n.printed.clone(),
            text: n.printed.clone().unwrap_or_default(),
            confidence: 91.0,
            matched: Some(n.subject.clone()),
            ok: true,
            px: px(n.rect),
        })
        .collect();
    let writing = p
        .writing
        .iter()
        .map(|w| WritingReading {
            id: w.id.clone(),
            ink: 0.0,
            has_writing: false,
            text: None,
            confidence: None,
            crop: None,
            px: px(w.rect),
        })
        .collect();
    let reading = PageReading {
        status: PageStatus::Read,
        reason: None,
        code: Some(code),
        rotation: 0,
        transform: Some([
            raster::px_per_mm(DPI),
            0.0,
            0.0,
            0.0,
            raster::px_per_mm(DPI),
            0.0,
            0.0,
            0.0,
            1.0,
        ]),
        residual_mm: Some(0.1),
        dpi: Some(DPI as f32),
        cells,
        questions: qs,
        names,
        writing,
        flags,
    };
    Built { reading, image }
}

fn record(store: &mut Store, batch: &Path, name: &str, b: &Built, branch: Option<&str>) {
    let path = batch.join("scans").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    b.image.save(&path).unwrap();
    let sha = pingyi::pages::sha256_file(&path).unwrap();
    let file = path.to_string_lossy().into_owned();
    store.begin_file(&sha, &file, 1).unwrap();
    let crops = vec![None; b.reading.flags.len()];
    store
        .record_page(PageRecord {
            file_sha256: &sha,
            index: 0,
            reading: &b.reading,
            branch,
            flag_crops: &crops,
        })
        .unwrap();
    store.finish_file(&sha).unwrap();
}

/// The campaign folder with the seed forms printed for branch jiguan1.
fn campaign(dir: &Path) -> (CampaignFolder, Layout, Layout) {
    let toml = dir.join("campaign.toml");
    std::fs::copy(root().join("fixtures/campaign/campaign.toml"), &toml).unwrap();
    let folder = CampaignFolder::open(&toml).unwrap();
    let forms = pingyi::form::load_dir(&root().join("forms")).unwrap();
    let c: &Campaign = &folder.campaign;
    let branch = c.branch("jiguan1");
    let mut out = Vec::new();
    for id in ["member", "window"] {
        let f = forms.iter().find(|f| f.id == id).unwrap();
        folder.snapshot_form(f).unwrap();
        let l = layout(f, c, branch).unwrap();
        folder.save_layout(&l).unwrap();
        out.push(l);
    }
    let window = out.pop().unwrap();
    let member = out.pop().unwrap();
    for (l, serials) in [
        (&member, vec!["M0000001", "M0000002"]),
        (&window, vec!["W0000001"]),
    ] {
        folder
            .record_print(&PrintRecord {
                form: l.form.clone(),
                form_version: l.form_version,
                branch: l.branch.clone(),
                layout_hash: l.hash.clone(),
                pages_per_sheet: l.pages.len() as u32,
                printed_at: "2011-12-20T08:00:00Z".into(),
                pdf: format!("{}.pdf", l.form),
                serials: serials.into_iter().map(String::from).collect(),
            })
            .unwrap();
    }
    (folder, member, window)
}

/// A batch with `member_sheets` member-form sheets (each with one faint tick and one double
/// tick), a window-form sheet with integrity feedback and a comment, a name written as
/// `<script>`, a duplicate, a rejected page and an unknown serial.
pub fn build(member_sheets: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (folder, member, window) = campaign(dir.path());
    let batch = folder.batch_dir("b1");
    let campaign = folder.root.join("campaign.toml");
    let mut store = Store::create(&batch, &campaign).unwrap();
    let q = member.questions().len();
    for s in 0..member_sheets.max(1) {
        let serial = format!("M{:07}", s + 1);
        let faint = (s * 3) % q;
        let double = (s * 3 + 1) % q;
        let mut b = page(&member, &serial, |qi| {
            if qi == faint {
                Fill::Faint(s + 1)
            } else if qi == double {
                Fill::Two(0, 2)
            } else {
                Fill::One(qi + s)
            }
        });
        if s == 0 {
            // The third name was read as markup: it must show as text.
            let n = &mut b.reading.names[2];
            n.text = EVIL_NAME.to_string();
            n.ok = false;
            n.matched = None;
            n.confidence = 41.0;
            let subject = n.subject.clone();
            b.reading.flags.push(Flag {
                kind: FlagKind::NameCheck,
                target: Some(subject),
                detail: "the name read does not match the printed one".into(),
                urgency: 0.3,
            });
        }
        record(
            &mut store,
            &batch,
            &format!("member{s:03}.png"),
            &b,
            Some("jiguan1"),
        );
    }
    // The same sheet scanned twice: the store raises `duplicate` itself.
    let again = page(&member, "M0000001", Fill::One);
    record(
        &mut store,
        &batch,
        "member_again.png",
        &again,
        Some("jiguan1"),
    );
    // 附3 with integrity feedback and a suggestion.
    let mut w = page(&window, "W0000001", Fill::One);
    for wr in &mut w.reading.writing {
        if wr.id == "integrity_report" {
            wr.has_writing = true;
            wr.ink = 0.08;
            wr.text = Some("<b>窗口</b> 收取好处费".into());
            w.reading.flags.push(Flag {
                kind: FlagKind::IntegrityFeedback,
                target: Some(wr.id.clone()),
                detail: "writing in the integrity box".into(),
                urgency: 0.5,
            });
        }
    }
    if let Some(sugg) = w
        .reading
        .writing
        .iter_mut()
        .find(|x| x.id != "integrity_report")
    {
        sugg.has_writing = true;
        sugg.text = Some("希望延长办公时间".into());
        w.reading.flags.push(Flag {
            kind: FlagKind::Comment,
            target: Some(sugg.id.clone()),
            detail: "a suggestion was written".into(),
            urgency: 1.0,
        });
    }
    record(&mut store, &batch, "window.png", &w, Some("jiguan1"));
    // A foreign page and an unknown serial.
    let rejected = Built {
        reading: PageReading::rejected("no pingyi code found: foreign page or code damaged"),
        image: GrayImage::from_pixel(827, 1169, image::Luma([200])),
    };
    record(&mut store, &batch, "foreign.png", &rejected, None);
    let mut unknown = page(&member, "MZZZZZZZ", Fill::One);
    unknown.reading.flags.push(Flag {
        kind: FlagKind::UnknownSerial,
        target: None,
        detail: "serial MZZZZZZZ was never printed for this campaign".into(),
        urgency: 0.0,
    });
    record(
        &mut store,
        &batch,
        "photocopy.png",
        &unknown,
        Some("jiguan1"),
    );
    drop(store);
    Fixture {
        dir,
        campaign,
        batch,
    }
}
