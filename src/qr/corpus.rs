//! The QR photo corpus (`manifest.tsv` + expected texts) and how decodes are scored against it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {problem}")]
    Manifest {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("{path}: no images listed")]
    NoImages { path: PathBuf },
}

/// One photo of the corpus.
#[derive(Debug, Clone)]
pub struct CorpusImage {
    /// Path of the image file (corpus directory joined with the manifest's path).
    pub path: PathBuf,
    /// The manifest's path, relative to the corpus directory.
    pub name: String,
    /// `<repo>/<folder>` it came from.
    pub source: String,
    /// Expected text of each code in it.
    pub expected: Vec<String>,
}

/// Reads `<dir>/manifest.tsv` (header line; columns path, source, codes, expected, …) and the
/// expected-text files it names.
pub fn load(dir: &Path) -> Result<Vec<CorpusImage>, CorpusError> {
    let manifest = dir.join("manifest.tsv");
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let text = read(&manifest)?;
    let problem = |line: usize, problem: String| CorpusError::Manifest {
        path: manifest.clone(),
        line,
        problem,
    };
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, header)) => header.split('\t').collect(),
        None => return Err(CorpusError::NoImages { path: manifest }),
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|&c| c == name)
            .ok_or_else(|| problem(1, format!("no '{name}' column in the header")))
    };
    let (path_at, source_at) = (column("path")?, column("source")?);
    let (codes_at, expected_at) = (column("codes")?, column("expected")?);
    let mut images = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |at: usize| {
            fields
                .get(at)
                .copied()
                .ok_or_else(|| problem(index + 1, format!("only {} columns", fields.len())))
        };
        let codes: usize = field(codes_at)?
            .parse()
            .map_err(|_| problem(index + 1, "'codes' is not a number".into()))?;
        let expected_files: Vec<&str> = field(expected_at)?
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        if expected_files.len() != codes {
            return Err(problem(
                index + 1,
                format!(
                    "{codes} codes but {} expected-text files",
                    expected_files.len()
                ),
            ));
        }
        let expected = expected_files
            .iter()
            .map(|file| read(&dir.join(file)))
            .collect::<Result<Vec<_>, _>>()?;
        let name = field(path_at)?.to_owned();
        images.push(CorpusImage {
            path: dir.join(&name),
            name,
            source: field(source_at)?.to_owned(),
            expected,
        });
    }
    if images.is_empty() {
        return Err(CorpusError::NoImages { path: manifest });
    }
    Ok(images)
}

/// The comparison the corpus asks for: CRLF as LF, one trailing newline ignored.
pub fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    match text.strip_suffix('\n') {
        Some(stripped) => stripped.to_owned(),
        None => text,
    }
}

/// Codes read right and decodes that match no expected text, for one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub correct: usize,
    pub wrong: usize,
}

/// Scores one image's decodes. Each decode is a list of readings of the same code (a decoder
/// that returns bytes may be read as UTF-8, Shift_JIS or Latin-1); it counts as correct if one
/// reading matches an expected text not matched yet, and as wrong if none matches any expected
/// text (the same code read twice is neither).
pub fn score(expected: &[String], decodes: &[Vec<String>]) -> Score {
    let expected: Vec<String> = expected.iter().map(|t| normalize(t)).collect();
    let mut matched = vec![false; expected.len()];
    let mut score = Score::default();
    for readings in decodes {
        let readings: Vec<String> = readings.iter().map(|t| normalize(t)).collect();
        let fresh = expected
            .iter()
            .enumerate()
            .position(|(i, e)| !matched[i] && readings.contains(e));
        if let Some(i) = fresh {
            matched[i] = true;
            score.correct += 1;
        } else if !expected.iter().any(|e| readings.contains(e)) {
            score.wrong += 1;
        }
    }
    score
}

/// The committed regression floor: the corpus decode count may only go up, wrong decodes only
/// down. Written by `hologuide bench qr --raise-floor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    pub decoded: usize,
    pub wrong: usize,
}

impl Floor {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut decoded = None;
        let mut wrong = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("'{line}' is not key = value"))?;
            let value: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("'{line}': not a number"))?;
            match key.trim() {
                "decoded" => decoded = Some(value),
                "wrong" => wrong = Some(value),
                other => return Err(format!("unknown key '{other}'")),
            }
        }
        Ok(Self {
            decoded: decoded.ok_or("no 'decoded' line")?,
            wrong: wrong.ok_or("no 'wrong' line")?,
        })
    }

    pub fn to_text(self) -> String {
        format!(
            "# QR corpus regression floor (../shared/corpus/qr): codes our decoder must read, and the\n\
             # most wrong decodes allowed. Raised only by `hologuide bench qr <dir> --raise-floor`.\n\
             decoded = {}\nwrong = {}\n",
            self.decoded, self.wrong
        )
    }
}
