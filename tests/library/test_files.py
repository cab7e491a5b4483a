import pytest

from cinedraft.errors import InputError
from cinedraft.library.files import FileStore, sha256_bytes, write_atomic


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a.bin"
    write_atomic(target, b"abc")
    write_atomic(target, b"defg")
    assert target.read_bytes() == b"defg"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_store_names_files_by_content(tmp_path):
    store = FileStore(tmp_path)
    rel, sha = store.put(b"hello", ".png")
    assert sha == sha256_bytes(b"hello") and rel == f"objects/{sha[:2]}/{sha}.png"
    assert store.resolve(rel).read_bytes() == b"hello"
    assert [p.name for p in store.stored()] == [f"{sha}.png"]


@pytest.mark.parametrize("rel", ["../outside.png", "objects/../../x", "/etc/passwd"])
def test_paths_outside_the_root_are_refused(tmp_path, rel):
    with pytest.raises(InputError, match="outside the library root"):
        FileStore(tmp_path / "lib").resolve(rel)
