//! File transfer between two nodes: `send_file` and `del_file` into the receiver's
//! destination folder, idempotence, overwriting, size limits and refused paths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcos::net::{FileError, NodeConfig, SendFileOptions, del_file, send_file};
use rcos_tests::{SECRET, node, node_with, run};

/// A fresh, empty folder for one test (removed when dropped).
struct Folder(PathBuf);

impl Folder {
    fn new(tag: &str) -> Folder {
        let path = std::env::temp_dir().join(format!(
            "rcos-test-files-{tag}-{}-{}",
            std::process::id(),
            fastrand_u64()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Folder(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Bytes that are not all alike, of length `n`.
fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_file_arrives_whole_and_is_not_sent_twice() {
    let (src, dest) = (Folder::new("src1"), Folder::new("dest1"));
    let a = node("files-a");
    let b = node_with(
        "files-b",
        NodeConfig::new().secret(SECRET).dest_path(&dest.0),
    );
    let at = b.location().unwrap();
    // Several chunks and a partial last one.
    let bytes = content(1_000_003, 7);
    let file = write(&src.0, "data.bin", &bytes);
    let sent = run(&a, {
        let file = file.clone();
        async move { send_file(at, &file, SendFileOptions::new()).await }
    });
    assert_eq!(sent.unwrap(), bytes.len() as u64);
    let there = dest.0.join("data.bin");
    assert_eq!(std::fs::read(&there).unwrap(), bytes);
    // No partial file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dest.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["data.bin"]);
    // The same content again: acknowledged without being written again.
    let before = std::fs::metadata(&there).unwrap().modified().unwrap();
    let again = run(&a, {
        let file = file.clone();
        async move { send_file(at, &file, SendFileOptions::new()).await }
    });
    assert_eq!(again.unwrap(), bytes.len() as u64);
    assert_eq!(
        std::fs::metadata(&there).unwrap().modified().unwrap(),
        before
    );
    // Into a sub-folder.
    let sub = run(&a, {
        let file = file.clone();
        async move { send_file(at, &file, SendFileOptions::new().dir("in/here")).await }
    });
    assert_eq!(sub.unwrap(), bytes.len() as u64);
    assert_eq!(
        std::fs::read(dest.0.join("in/here/data.bin")).unwrap(),
        bytes
    );
}

#[test]
fn a_different_file_is_replaced_only_when_asked() {
    let (src, dest) = (Folder::new("src2"), Folder::new("dest2"));
    let a = node("files-c");
    let b = node_with(
        "files-d",
        NodeConfig::new().secret(SECRET).dest_path(&dest.0),
    );
    let at = b.location().unwrap();
    std::fs::write(dest.0.join("notes.txt"), b"old").unwrap();
    let file = write(&src.0, "notes.txt", b"new notes");
    let refused = run(&a, {
        let file = file.clone();
        async move { send_file(at, &file, SendFileOptions::new()).await }
    });
    assert!(matches!(refused, Err(FileError::Exists(_))), "{refused:?}");
    assert_eq!(std::fs::read(dest.0.join("notes.txt")).unwrap(), b"old");
    let replaced = run(&a, async move {
        send_file(at, &file, SendFileOptions::new().overwrite(true)).await
    });
    assert_eq!(replaced.unwrap(), 9);
    assert_eq!(
        std::fs::read(dest.0.join("notes.txt")).unwrap(),
        b"new notes"
    );
}

#[test]
fn files_over_the_limit_and_paths_out_of_the_folder_are_refused() {
    let (src, dest) = (Folder::new("src3"), Folder::new("dest3"));
    let a = node("files-e");
    let b = node_with(
        "files-f",
        NodeConfig::new()
            .secret(SECRET)
            .dest_path(&dest.0)
            .max_file_size(1000),
    );
    let at = b.location().unwrap();
    let big = write(&src.0, "big.bin", &content(2000, 1));
    let too_large = run(&a, async move {
        send_file(at, &big, SendFileOptions::new()).await
    });
    match too_large {
        Err(FileError::TooLarge { size, max }) => {
            assert_eq!(size, 2000);
            assert_eq!(max, Some(1000));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let small = write(&src.0, "small.bin", &content(10, 2));
    for dir in ["../escape", "/abs", "a/../../b"] {
        let small = small.clone();
        let refused = run(&a, async move {
            send_file(at, &small, SendFileOptions::new().dir(dir)).await
        });
        assert!(
            matches!(refused, Err(FileError::BadPath(_))),
            "{dir}: {refused:?}"
        );
    }
    // Nothing was written anywhere.
    assert_eq!(std::fs::read_dir(&dest.0).unwrap().count(), 0);
    let parent = dest.0.parent().unwrap();
    assert!(!parent.join("escape").exists());
}

#[test]
fn del_file_deletes_inside_the_folder_only() {
    let (src, dest) = (Folder::new("src4"), Folder::new("dest4"));
    let a = node("files-g");
    let b = node_with(
        "files-h",
        NodeConfig::new().secret(SECRET).dest_path(&dest.0),
    );
    let at = b.location().unwrap();
    let file = write(&src.0, "gone.txt", b"bye");
    run(&a, async move {
        send_file(at, &file, SendFileOptions::new().dir("d"))
            .await
            .unwrap();
    });
    assert!(dest.0.join("d/gone.txt").exists());
    let t = Duration::from_secs(10);
    run(&a, async move {
        del_file(at, "d/gone.txt", t).await.unwrap();
        let again = del_file(at, "d/gone.txt", t).await;
        assert!(matches!(again, Err(FileError::NotFound(_))), "{again:?}");
        let escape = del_file(at, "../dest4-sibling", t).await;
        assert!(matches!(escape, Err(FileError::BadPath(_))), "{escape:?}");
    });
    assert!(!dest.0.join("d/gone.txt").exists());
}

#[test]
fn a_runtime_that_is_not_a_node_cannot_send_files() {
    let rt = rcos_tests::rt2();
    let b = node("files-i");
    let at = b.location().unwrap();
    let result = run(&rt, async move {
        send_file(at, "/nonexistent-for-this-test", SendFileOptions::new()).await
    });
    // The local file is read first: a missing file is an I/O error.
    assert!(matches!(result, Err(FileError::Io(_))), "{result:?}");
    let src = Folder::new("src5");
    let file = write(&src.0, "x", b"x");
    let result = run(&rt, async move {
        send_file(at, &file, SendFileOptions::new()).await
    });
    assert!(matches!(result, Err(FileError::NotANode)), "{result:?}");
}

#[test]
fn chunks_fit_a_small_frame_limit() {
    let (src, dest) = (Folder::new("src6"), Folder::new("dest6"));
    let small = |name: &str, dest: Option<&Path>| {
        let config = NodeConfig::new().secret(SECRET).max_frame(64 << 10);
        node_with(
            name,
            match dest {
                Some(d) => config.dest_path(d),
                None => config,
            },
        )
    };
    let a = small("files-j", None);
    let b = small("files-k", Some(&dest.0));
    let at = b.location().unwrap();
    let bytes = content(300 << 10, 9);
    let file = write(&src.0, "wide.bin", &bytes);
    let sent = run(&a, async move {
        send_file(at, &file, SendFileOptions::new()).await
    });
    assert_eq!(sent.unwrap(), bytes.len() as u64);
    assert_eq!(std::fs::read(dest.0.join("wide.bin")).unwrap(), bytes);
}
