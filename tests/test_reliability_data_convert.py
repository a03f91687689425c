"""`yolo3 convert` and `yolo3 check-data` as a careless user runs them (issue 14.1, 14.13, 17).

Output equal to, inside or around the source is refused before anything is written and
no source file changes; a non-empty output needs --force; convert says what it wrote;
user errors print `yolo3 COMMAND: error: …` and exit 2.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from _data_utils import plain_image, write_yolo_dataset

from yolo3.cli import main

NAMES = ["cat", "dog"]


def _dataset(root: Path) -> Path:
    return write_yolo_dataset(root, {"a.jpg": plain_image(64, 96), "b.jpg": plain_image(64, 96, 1),
                                     "c.png": plain_image(32, 32, 2)},
                              {"a.jpg": "0 0.5 0.5 0.25 0.25\n1 0.25 0.25 0.1 0.1\n", "b.jpg": "1 0.5 0.5 0.5 0.5\n",
                               "c.png": ""}, NAMES)


def _snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root → (type, sha256 of the bytes for files / link target for links)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                out[str(p.relative_to(root))] = ("link", os.readlink(p))
            elif p.is_file():
                out[str(p.relative_to(root))] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[str(p.relative_to(root))] = ("dir", "")
    return out


@pytest.mark.parametrize("images", ["copy", "link", "none"])
@pytest.mark.parametrize("where", ["same", "inside", "around"])
@pytest.mark.parametrize("to", ["yolo", "voc", "coco"])
def test_convert_onto_its_own_source_is_refused_and_touches_nothing(tmp_path: Path, capsys, images: str,
                                                                      where: str, to: str) -> None:
    data = _dataset(tmp_path / "ds")
    src = data.parent
    out = {"same": src, "inside": src / "converted", "around": tmp_path}[where]
    before = _snapshot(tmp_path)
    code = main(["convert", str(data), str(out), "--to", to, "--images", images, "--force"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("yolo3 convert: error: ") and str(out) in err and "source" in err, err
    assert _snapshot(tmp_path) == before  # byte-identical, nothing added, no symlink anywhere
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


def test_convert_refuses_a_non_empty_output_without_force_and_reports_what_it_wrote(tmp_path: Path,
                                                                                      capsys) -> None:
    data = _dataset(tmp_path / "ds")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["convert", str(data), str(out), "--to", "coco"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("yolo3 convert: error: ") and "not empty" in err and "--force" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert main(["convert", str(data), str(out), "--to", "coco", "--force"]) == 0
    printed = capsys.readouterr().out
    # 3 images, 3 boxes (2 + 1 + 0), per class cat 1 / dog 2, written to annotations/train.json
    assert "train: 3 images, 3 boxes (cat 1, dog 2)" in printed, printed
    assert f"wrote {out}" in printed
    assert (out / "keep.txt").read_text() == "mine"
    # an empty existing folder is fine without --force
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["convert", str(data), str(empty), "--to", "voc"]) == 0
    assert "train: 3 images, 3 boxes (cat 1, dog 2)" in capsys.readouterr().out


def test_a_symlinked_output_into_the_source_is_refused(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path / "ds")
    alias = tmp_path / "alias"
    alias.symlink_to(data.parent / "images", target_is_directory=True)
    before = _snapshot(data.parent)
    assert main(["convert", str(data), str(alias), "--to", "voc", "--images", "link", "--force"]) == 2
    assert "source" in capsys.readouterr().err
    assert _snapshot(data.parent) == before


def test_data_cli_user_errors_print_the_command_and_exit_2(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path / "ds")
    cases = [
        (["convert", str(data), str(tmp_path / "x"), "--from", "coco", "--to", "voc"], "convert", "not coco"),
        (["convert", str(tmp_path / "nothing"), str(tmp_path / "y"), "--to", "voc"], "convert", "no such file"),
        (["check-data", str(tmp_path / "nothing")], "check-data", "no such file"),
        (["check-data", str(data), "--policy", "nonsense=skip"], "check-data", "--policy"),
        (["check-data", str(data), "--policy", "no_labels=stop"], "check-data", "policy"),
    ]
    for argv, command, text in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"yolo3 {command}: error: ") and text in err, (argv, err)


def test_check_data_refuses_empty_names_and_names_the_file_for_bad_nc_and_keys(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path / "ds")
    for bad, fragment in [("names: []\n", "'names' is empty"), ("names: [cat, dog]\nnc: three\n", "'nc' must be"),
                          ("names: {0: cat, x: dog}\n", "'names' keys"), ("names: {0: cat, 2: dog}\n", "'names' keys"),
                          ("names: 5\n", "'names' must be a list"), ("names: [cat, [dog]]\n", "plain string")]:
        data.write_text("path: .\ntrain: images/train\n" + bad)
        assert main(["check-data", str(data)]) == 2, bad
        err = capsys.readouterr().err
        assert err.startswith("yolo3 check-data: error: ") and str(data) in err and fragment in err, (bad, err)


def test_place_image_never_replaces_its_own_source(tmp_path: Path) -> None:
    from yolo3.data.findings import DataError
    from yolo3.data.formats import place_image

    src = tmp_path / "a.jpg"
    src.write_bytes(b"\xff\xd8 image bytes")
    link = tmp_path / "link.jpg"
    link.symlink_to(src)
    for dst in (src, link):
        for mode in ("copy", "link"):
            with pytest.raises(DataError, match="source image"):
                place_image(src, dst, mode)
    assert src.read_bytes() == b"\xff\xd8 image bytes" and not src.is_symlink() and link.resolve() == src


def test_data_root_outside_the_yaml_tree_needs_the_flag_on_the_cli(tmp_path: Path, capsys) -> None:
    _dataset(tmp_path / "ds")
    cfg = tmp_path / "cfg" / "data.yaml"
    cfg.parent.mkdir()
    cfg.write_text("path: ../ds\ntrain: images/train\nnames: [cat, dog]\n")
    for argv in (["check-data", str(cfg)], ["convert", str(cfg), str(tmp_path / "out"), "--to", "voc"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"yolo3 {argv[0]}: error: {cfg}" in err and "--allow-outside-root" in err, err
        assert main([*argv, "--allow-outside-root"]) == 0
    assert "train: 3 images, 3 boxes (cat 1, dog 2)" in capsys.readouterr().out


@pytest.mark.parametrize("images", ["copy", "link"])
def test_a_conversion_that_fails_half_way_leaves_no_output(tmp_path: Path, capsys, images: str) -> None:
    data = _dataset(tmp_path / "ds")
    (data.parent / "images" / "train" / "d.jpg").write_text("not an image")  # met after a, b, c are written
    (data.parent / "labels" / "train" / "d.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    before = _snapshot(data.parent)
    out = tmp_path / "out"
    assert main(["convert", str(data), str(out), "--to", "coco", "--images", images]) == 2
    err = capsys.readouterr().err
    assert err.startswith("yolo3 convert: error: ") and "d.jpg" in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no partial folder either
    assert _snapshot(data.parent) == before
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(data), str(tmp_path / "empty"), "--to", "voc", "--images", images]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "empty"] and not any((tmp_path / "empty").iterdir())


def test_convert_a_coco_json_beside_its_images_to_a_sibling_folder(tmp_path: Path, capsys) -> None:
    # datasets/shop/train.json + datasets/shop/images/: the output datasets/shop-yolo is outside
    # the source, but the reader took datasets/ (the JSON's grandparent) as the dataset root
    import json

    from _data_utils import write_rgb

    src = tmp_path / "datasets" / "shop"
    write_rgb(src / "images" / "a.jpg", plain_image(64, 96))
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 64}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 20]}],
           "categories": [{"id": 1, "name": "cat"}]}
    (src / "train.json").write_text(json.dumps(doc))
    out = tmp_path / "datasets" / "shop-yolo"
    assert main(["convert", str(src / "train.json"), str(out), "--to", "yolo"]) == 0, capsys.readouterr().err
    assert (out / "labels" / "train" / "a.txt").read_text().startswith("0 ")
    assert main(["convert", str(src / "train.json"), str(src / "out"), "--to", "yolo"]) == 2  # inside: refused


@pytest.mark.parametrize("images", ["copy", "link"])
def test_convert_names_an_image_missing_on_disk_and_writes_nothing(tmp_path: Path, capsys, images: str) -> None:
    import json

    from _data_utils import write_rgb

    src = tmp_path / "shop"
    write_rgb(src / "images" / "a.jpg", plain_image(64, 96))
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 64},
                      {"id": 2, "file_name": "gone.jpg", "width": 96, "height": 64}],
           "annotations": [{"id": k, "image_id": k, "category_id": 1, "bbox": [1, 2, 10, 20]} for k in (1, 2)],
           "categories": [{"id": 1, "name": "cat"}]}
    (src / "train.json").write_text(json.dumps(doc))
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "old.txt").write_text("x")
    for out, force in ((tmp_path / "out", []), (tmp_path / "kept", ["--force"])):
        assert main(["convert", str(src / "train.json"), str(out), "--to", "yolo", "--images", images, *force]) == 2
        err = capsys.readouterr().err
        assert err.startswith("yolo3 convert: error: ") and "Errno" not in err, err
        assert str(src / "images" / "gone.jpg") in err and "train.json" in err and "--images none" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "shop"]  # no output, no partial folder
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["old.txt"]  # nothing written with --force either
    assert main(["convert", str(src / "train.json"), str(tmp_path / "labels"), "--to", "yolo", "--images",
                 "none"]) == 0  # labels only: the image is not needed
