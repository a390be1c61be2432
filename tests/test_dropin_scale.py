"""Planning is linear in the size of the lock: a generated 50,000-package lock plans in one pass.

`Lock.by_name` used to scan every package for every dependency edge (417 s for 50,000 packages).
The test counts how often a package's name is read: a scan per edge would read it billions of times.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from uvroot.lock import Dependency, Lock, LockedPackage, LockedWheel, PackageId, Source
from uvroot.plan import plan_install
from uvroot.project import Declared, Project
from uvroot.selection import Selection
from uvroot.target import Target

COUNT = 50_000
ANY = frozenset({Tag("py3", "none", "any")})


def _generated_lock(tmp_path: Path) -> Lock:
    registry = Source("registry", "https://example.invalid/simple")
    packages = []
    for index in range(COUNT):
        children = [child for child in (2 * index + 1, 2 * index + 2) if child < COUNT]
        name = canonicalize_name(f"pkg-{index}")
        packages.append(
            LockedPackage(
                id=PackageId(name, "1.0", registry),
                dependencies=tuple(Dependency(canonicalize_name(f"pkg-{child}")) for child in children),
                wheels=(
                    LockedWheel(
                        f"pkg_{index}-1.0-py3-none-any.whl", f"https://example.invalid/{index}", "0" * 64, 1, ANY, ()
                    ),
                ),
            )
        )
    root = LockedPackage(
        id=PackageId(canonicalize_name("app"), "0.1.0", Source("virtual", str(tmp_path))),
        dependencies=(Dependency(canonicalize_name("pkg-0")),),
    )
    return Lock(path=tmp_path / "uv.lock", revision=3, requires_python=None, packages=(root, *packages))


def test_a_50000_package_lock_plans_in_linear_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = _generated_lock(tmp_path)
    project = Project(
        dir=tmp_path,
        name=canonicalize_name("app"),
        extras=frozenset(),
        groups=frozenset(),
        default_groups=frozenset(),
        declared=Declared(),
    )
    reads = 0
    original = LockedPackage.name

    def counted(self: LockedPackage) -> str:
        nonlocal reads
        reads += 1
        return original.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(LockedPackage, "name", property(counted))
    plan = plan_install(lock, project, Target.parse("3.12", "x86_64-manylinux_2_28"), Selection(), explain=True)
    assert len(plan.dists) == COUNT
    assert reads < 20 * COUNT, reads  # a scan of the lock per edge would be ~COUNT * COUNT
