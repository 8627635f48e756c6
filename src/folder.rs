//! The campaign folder: `campaign.toml` and everything pingyi writes beside it.
//!
//! ```text
//! <campaign>/campaign.toml      the campaign (names, numbers)
//! <campaign>/forms/<id>.toml    snapshot of each form as printed (the tally's rules come from here)
//! <campaign>/layouts/<hash>.json  the exact geometry behind each layout hash (the reader's contract)
//! <campaign>/prints/*.json      print records: form, branch, layout hash, serials (turnout, photocopies)
//! <campaign>/batches/<name>/    scan batches (batch.sqlite, crops)
//! ```

use crate::campaign::{Campaign, CampaignError};
use crate::form::{FormDef, FormError};
use crate::layout::Layout;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    #[error(transparent)]
    Form(#[from] FormError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("layout {hash} was never printed from this campaign folder ({dir}): was the sheet printed from another campaign?")]
    UnknownLayout { hash: String, dir: PathBuf },
    #[error("form \"{id}\" was never printed from this campaign (no {path})")]
    UnknownForm { id: String, path: PathBuf },
}

/// One `pingyi print` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrintRecord {
    pub form: String,
    pub form_version: u32,
    pub branch: Option<String>,
    pub layout_hash: String,
    pub pages_per_sheet: u32,
    /// When it was printed (RFC 3339, UTC).
    pub printed_at: String,
    /// The output PDF, as given.
    pub pdf: String,
    /// One serial per printed copy, in print order (never linked to a person).
    pub serials: Vec<String>,
}

/// What a serial was printed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedSheet {
    pub form: String,
    pub branch: Option<String>,
    pub layout_hash: String,
}

pub struct CampaignFolder {
    pub root: PathBuf,
    pub campaign: Campaign,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl CampaignFolder {
    /// Open from `campaign.toml` or the folder holding it.
    pub fn open(path: &Path) -> Result<Self, FolderError> {
        let file = if path.is_dir() {
            path.join("campaign.toml")
        } else {
            path.to_path_buf()
        };
        let campaign = Campaign::load(&file)?;
        let root = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Self { root, campaign })
    }

    fn dir(&self, name: &str) -> Result<PathBuf, FolderError> {
        let d = self.root.join(name);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
        Ok(d)
    }

    /// Write `bytes` to `path` atomically (temp file + rename), so a crash never leaves half a file.
    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FolderError> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), FolderError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|source| FolderError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Self::write_atomic(path, &bytes)
    }

    fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, FolderError> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        serde_json::from_slice(&bytes).map_err(|source| FolderError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Keep the form exactly as printed; later edits to `forms/` cannot change this campaign's rules.
    pub fn snapshot_form(&self, form: &FormDef) -> Result<(), FolderError> {
        let path = self.dir("forms")?.join(format!("{}.toml", form.id));
        let text = toml::to_string_pretty(form).map_err(|e| FolderError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Self::write_atomic(&path, text.as_bytes())
    }

    /// The form as printed for this campaign.
    pub fn form(&self, id: &str) -> Result<FormDef, FolderError> {
        let path = self.root.join("forms").join(format!("{id}.toml"));
        if !path.exists() {
            return Err(FolderError::UnknownForm {
                id: id.to_string(),
                path,
            });
        }
        Ok(crate::form::load_file(&path)?)
    }

    /// Every form printed for this campaign.
    pub fn forms(&self) -> Result<Vec<FormDef>, FolderError> {
        let d = self.root.join("forms");
        if !d.exists() {
            return Ok(Vec::new());
        }
        Ok(crate::form::load_dir(&d)?)
    }

    pub fn save_layout(&self, layout: &Layout) -> Result<PathBuf, FolderError> {
        let path = self.dir("layouts")?.join(format!("{}.json", layout.hash));
        if !path.exists() {
            Self::write_json(&path, layout)?;
        }
        Ok(path)
    }

    pub fn load_layout(&self, hash: &str) -> Result<Layout, FolderError> {
        // Hashes are 8 hex digits; anything else must not become a path.
        let dir = self.root.join("layouts");
        if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FolderError::UnknownLayout {
                hash: hash.to_string(),
                dir,
            });
        }
        let path = dir.join(format!("{hash}.json"));
        if !path.exists() {
            return Err(FolderError::UnknownLayout {
                hash: hash.to_string(),
                dir,
            });
        }
        Self::read_json(&path)
    }

    /// Every layout printed from this folder, by hash.
    pub fn layouts(&self) -> Result<HashMap<String, Layout>, FolderError> {
        let dir = self.root.join("layouts");
        let mut out = HashMap::new();
        if !dir.exists() {
            return Ok(out);
        }
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = e.map_err(io(&dir))?.path();
            if p.extension().is_some_and(|x| x == "json") {
                let l: Layout = Self::read_json(&p)?;
                out.insert(l.hash.clone(), l);
            }
        }
        Ok(out)
    }

    pub fn record_print(&self, record: &PrintRecord) -> Result<PathBuf, FolderError> {
        let stamp: String = record
            .printed_at
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let branch = record.branch.as_deref().unwrap_or("all");
        let dir = self.dir("prints")?;
        let mut path = dir.join(format!("{stamp}-{}-{branch}.json", record.form));
        let mut k = 1;
        while path.exists() {
            k += 1;
            path = dir.join(format!("{stamp}-{}-{branch}-{k}.json", record.form));
        }
        Self::write_json(&path, record)?;
        Ok(path)
    }

    pub fn print_records(&self) -> Result<Vec<PrintRecord>, FolderError> {
        let dir = self.root.join("prints");
        let mut out = Vec::new();
        if !dir.exists() {
            return Ok(out);
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for p in paths {
            out.push(Self::read_json(&p)?);
        }
        Ok(out)
    }

    /// Every serial ever printed from this folder.
    pub fn printed_serials(&self) -> Result<HashMap<String, PrintedSheet>, FolderError> {
        let mut m = HashMap::new();
        for r in self.print_records()? {
            for s in r.serials {
                m.insert(
                    s,
                    PrintedSheet {
                        form: r.form.clone(),
                        branch: r.branch.clone(),
                        layout_hash: r.layout_hash.clone(),
                    },
                );
            }
        }
        Ok(m)
    }

    /// Where a named scan batch lives by default.
    pub fn batch_dir(&self, name: &str) -> PathBuf {
        self.root.join("batches").join(name)
    }
}
