//! Secrets on disk (CA keys, identity keys): lower-case hex lines in a file only its owner may
//! read. A missing file is created atomically, so two processes starting together end up with
//! the same key: each writes a private temporary file and links it into place, and whoever
//! loses the race reads the winner's.

use std::io::{self, Write};
use std::path::Path;

use steamnet_proto::cert::to_hex;

/// Read the hex lines of `path`; if it does not exist, create it from `make()` first.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> Vec<Vec<u8>>) -> io::Result<Vec<Vec<u8>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(path, &text),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let lines = make();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        for line in &lines {
            writeln!(file, "{}", to_hex(line))?;
        }
        file.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(lines),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => parse(path, &std::fs::read_to_string(path)?),
        Err(e) => Err(e),
    }
}

fn parse(path: &Path, text: &str) -> io::Result<Vec<Vec<u8>>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let line = line.trim();
            (0..line.len())
                .step_by(2)
                .map(|i| line.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{} is not a hex key file", path.display()))
                })
        })
        .collect()
}

/// A 32-byte secret stored alone in `path` (a CA key), made by `make` if the file is new.
pub fn load_or_create_secret(path: &Path, make: impl FnOnce() -> [u8; 32]) -> io::Result<[u8; 32]> {
    let lines = load_or_create(path, || vec![make().to_vec()])?;
    lines.first().and_then(|l| <[u8; 32]>::try_from(l.as_slice()).ok()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{} does not hold a 32-byte key", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = std::env::temp_dir().join(format!("steamnet-keyfile-{}", std::process::id()));
        let path = dir.join("sub/key");
        let first = load_or_create_secret(&path, || [5; 32]).unwrap();
        let second = load_or_create_secret(&path, || [6; 32]).unwrap();
        assert_eq!((first, second), ([5; 32], [5; 32]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(load_or_create_secret(&path, || [7; 32]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
