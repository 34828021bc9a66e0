use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test. `CARGO_BIN_EXE_*` rather than a path derived from this test's own
/// executable, which is the dynamic loader when tests run through the Monado tree.
pub fn hologuide() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hologuide"));
    command.env_remove("RUST_LOG");
    command
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The glTF conformance corpus, shared beside the repository (never copied into it).
pub fn gltf_corpus() -> PathBuf {
    repo().join("../shared/corpus/gltf")
}

pub fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("the hologuide binary runs")
}

/// Copies a directory tree (test fixtures are small).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Zips a directory into an archive, with entry names relative to it.
pub fn zip_dir(dir: &Path, archive: &Path) {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(archive).unwrap());
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                writer
                    .start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    writer.finish().unwrap();
}
