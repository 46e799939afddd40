//! A storage backend that reads a file (or another backend) and keeps every write in
//! memory: what it reads is never written. It lets a file that redb must repair be
//! repaired, and checked, without changing it, so that a file Drift refuses is left
//! as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

const BLOCK: u64 = 4096;

/// Reads the underlying bytes at an offset into a buffer.
type Source = Box<dyn FnMut(u64, &mut [u8]) -> std::io::Result<()> + Send>;

struct State {
    source: Source,
    /// The file's length when opened: bytes past it read as zeros.
    file_len: u64,
    /// The length redb sees.
    len: u64,
    /// Bytes of the file at or past this offset read as zeros (a shrink cut them).
    zero_from: u64,
    /// Blocks written, by block number.
    blocks: HashMap<u64, Box<[u8]>>,
}

/// A copy-on-write view of a file.
pub(crate) struct Overlay(Mutex<State>);

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Overlay").field("len", &state.len).field("blocks", &state.blocks.len()).finish()
    }
}

impl Overlay {
    pub(crate) fn open(path: &Path) -> std::io::Result<Overlay> {
        let mut file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let source: Source = Box::new(move |offset, out| {
            file.seek(SeekFrom::Start(offset))?;
            file.read_exact(out)
        });
        Ok(Overlay::over(source, file_len))
    }

    /// A view of the storage `backend` keeps: read through it, never written to it.
    pub(crate) fn of_backend(backend: impl redb::StorageBackend) -> std::io::Result<Overlay> {
        let len = backend.len()?;
        let source: Source = Box::new(move |offset, out| backend.read(offset, out));
        Ok(Overlay::over(source, len))
    }

    fn over(source: Source, file_len: u64) -> Overlay {
        Overlay(Mutex::new(State { source, file_len, len: file_len, zero_from: file_len, blocks: HashMap::new() }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// Reads the file's bytes at `offset` into `out`, zeros past its end or a cut.
    fn read_file(&mut self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        out.fill(0);
        let end = self.file_len.min(self.zero_from);
        if offset >= end {
            return Ok(());
        }
        let n = usize::try_from((end - offset).min(out.len() as u64)).unwrap_or(out.len());
        (self.source)(offset, &mut out[..n])
    }

    fn block_mut(&mut self, number: u64) -> std::io::Result<&mut [u8]> {
        if !self.blocks.contains_key(&number) {
            let mut data = vec![0; BLOCK as usize].into_boxed_slice();
            self.read_file(number * BLOCK, &mut data)?;
            self.blocks.insert(number, data);
        }
        self.blocks.get_mut(&number).map(|b| &mut **b).ok_or_else(|| std::io::Error::other("block vanished"))
    }
}

/// Splits `[offset, offset + len)` into (block number, offset in block, length).
fn pieces(offset: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize)> {
    let end = offset + len as u64;
    let mut at = offset;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let number = at / BLOCK;
        let within = at % BLOCK;
        let n = (BLOCK - within).min(end - at);
        at += n;
        Some((number, within as usize, n as usize))
    })
}

impl redb::StorageBackend for Overlay {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let mut state = self.state();
        if offset.checked_add(out.len() as u64).is_none_or(|end| end > state.len) {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end of the file"));
        }
        let mut done = 0;
        for (number, within, n) in pieces(offset, out.len()) {
            let dest = &mut out[done..done + n];
            match state.blocks.get(&number) {
                Some(block) => dest.copy_from_slice(&block[within..within + n]),
                None => state.read_file(number * BLOCK + within as u64, dest)?,
            }
            done += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut state = self.state();
        if len < state.len {
            state.zero_from = state.zero_from.min(len);
            let first_gone = len.div_ceil(BLOCK);
            state.blocks.retain(|&b, _| b < first_gone);
            if len % BLOCK != 0 {
                if let Some(block) = state.blocks.get_mut(&(len / BLOCK)) {
                    block[(len % BLOCK) as usize..].fill(0);
                }
            }
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut state = self.state();
        let mut done = 0;
        for (number, within, n) in pieces(offset, data.len()) {
            state.block_mut(number)?[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::StorageBackend;

    use super::Overlay;

    #[test]
    fn writes_are_read_back_and_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let original: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &original).unwrap();
        let o = Overlay::open(&path).unwrap();
        o.write(4090, &[7; 20]).unwrap();
        let mut out = vec![0; 30];
        o.read(4085, &mut out).unwrap();
        assert_eq!(&out[..5], &original[4085..4090]);
        assert_eq!(&out[5..25], &[7; 20]);
        assert_eq!(&out[25..], &original[4110..4115]);
        o.set_len(5000).unwrap();
        o.set_len(12_000).unwrap();
        let mut tail = vec![1; 100];
        o.read(4990, &mut tail).unwrap();
        assert_eq!(&tail[..10], &original[4990..5000]);
        assert!(tail[10..].iter().all(|b| *b == 0), "bytes cut by a shrink read as zeros");
        assert_eq!(o.len().unwrap(), 12_000);
        assert_eq!(std::fs::read(&path).unwrap(), original);
    }
}
