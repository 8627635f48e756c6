//! Writing each layout page's fixed ink once per PDF, however many copies.
//!
//! `render_pdf` emits the layout's pages first as "templates" (fixed ink only), then every
//! copy's pages (QR code + serial only). Here each template's content becomes a form XObject
//! and each copy page gets a shared `q /PYk Do Q` stream in front of its own content; then the
//! templates are dropped. A 1,000-copy run thus costs one table drawing, not a thousand.

use super::PrintError;
use lopdf::{dictionary, Document, Object, ObjectId, Stream};

fn pdf_err(e: lopdf::Error) -> PrintError {
    PrintError::Pdf(e.to_string())
}

/// Turn the first `templates` pages of `pdf` into form XObjects drawn under the later pages
/// (page `templates + i` uses template `i % templates`) and remove them.
pub fn share_page_ink(pdf: &[u8], templates: usize) -> Result<Vec<u8>, PrintError> {
    let mut doc = Document::load_mem(pdf).map_err(pdf_err)?;
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    if templates == 0 || pages.len() < templates {
        return Err(PrintError::Pdf(format!(
            "expected {templates} template pages, found {}",
            pages.len()
        )));
    }
    // One (XObject name, form XObject, prefix stream) per template page.
    let mut shared: Vec<(Vec<u8>, ObjectId, ObjectId)> = Vec::with_capacity(templates);
    for (k, &page_id) in pages[..templates].iter().enumerate() {
        let content = doc.get_page_content(page_id);
        let resources = match doc.get_page_resources(page_id).map_err(pdf_err)? {
            (Some(dict), _) => dict.clone(),
            (None, ids) => match ids.first() {
                Some(id) => doc.get_dictionary(*id).map_err(pdf_err)?.clone(),
                None => lopdf::Dictionary::new(),
            },
        };
        let media_box = doc
            .get_dictionary(page_id)
            .and_then(|p| p.get(b"MediaBox"))
            .cloned()
            .map_err(pdf_err)?;
        let mut form = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => media_box,
                "Resources" => resources,
            },
            content,
        );
        // Compression cannot fail on an in-memory buffer; an uncompressed form is still valid.
        let _ = form.compress();
        let form_id = doc.add_object(form);
        let name = format!("PY{}", k + 1).into_bytes();
        let mut prefix_text = b"q /".to_vec();
        prefix_text.extend_from_slice(&name);
        prefix_text.extend_from_slice(b" Do Q\n");
        let prefix = doc.add_object(Stream::new(lopdf::Dictionary::new(), prefix_text));
        shared.push((name, form_id, prefix));
    }
    for (i, &page_id) in pages[templates..].iter().enumerate() {
        let (name, form_id, prefix) = &shared[i % templates];
        doc.add_xobject(page_id, name.clone(), *form_id)
            .map_err(pdf_err)?;
        let page = doc
            .get_object_mut(page_id)
            .and_then(Object::as_dict_mut)
            .map_err(pdf_err)?;
        let mut contents = vec![Object::Reference(*prefix)];
        match page.get(b"Contents") {
            Ok(Object::Array(a)) => contents.extend(a.iter().cloned()),
            Ok(o) => contents.push(o.clone()),
            Err(_) => {}
        }
        page.set("Contents", Object::Array(contents));
    }
    let drop: Vec<u32> = (1..=templates as u32).collect();
    doc.delete_pages(&drop);
    doc.prune_objects();
    doc.renumber_objects();
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| PrintError::Pdf(e.to_string()))?;
    Ok(out)
}
