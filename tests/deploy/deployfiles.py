"""Readers for the files under deploy/: the compose file, the Dockerfiles, the collector config.

CI has no Docker engine, so the deployment is checked by reading these files the way Docker
and the collector would: what a build copies, what a container runs, which variables a file
interpolates. Kept apart from the tests so each test reads as the rule it enforces.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
COLLECTOR_FILE = DEPLOY / "otel-collector-config.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err},
# ${NAME:+alt}, ${NAME+alt}, and the unbraced $NAME; "$$" is an escaped dollar.
_COMPOSE_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
# The collector's ${env:NAME} (and ${env:NAME:-default}); a bare ${NAME} means the same.
_COLLECTOR_VAR = re.compile(r"\$\{(?:env:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def collector_config() -> dict[str, Any]:
    return load_yaml(COLLECTOR_FILE)


def strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys included (comments are already gone)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


@dataclass(frozen=True)
class ComposeVar:
    name: str
    op: str | None
    arg: str
    braced: bool


def compose_variables(document: Any) -> list[ComposeVar]:
    found = []
    for text in strings(document):
        for match in _COMPOSE_VAR.finditer(text.replace("$$", "")):
            if match.group("braced"):
                found.append(ComposeVar(match.group("braced"), match.group("op"), match.group("arg"), True))
            else:
                found.append(ComposeVar(match.group("bare"), None, "", False))
    return found


def collector_variables(document: Any) -> set[str]:
    return {m.group("name") for text in strings(document) for m in _COLLECTOR_VAR.finditer(text)}


@dataclass(frozen=True)
class EnvEntry:
    value: str
    comments: tuple[str, ...]  # the comment lines right above the variable (its explanation)
    section: str  # the last "# --- ... ---" header above it


def env_example() -> dict[str, EnvEntry]:
    entries: dict[str, EnvEntry] = {}
    comments: list[str] = []
    section = ""
    after_variable = False
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# ---"):
            section, comments = stripped, []
        elif stripped.startswith("#"):
            if after_variable:  # a new explanation starts
                comments = []
            comments.append(stripped)
        elif match := re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", stripped):
            # Variables listed one under another share the comment block above the first.
            entries[match.group(1)] = EnvEntry(match.group(2), tuple(comments), section)
        elif not stripped:
            comments = []
        after_variable = bool(re.match(r"[A-Z][A-Z0-9_]*=", stripped))
    return entries


# --- Compose structure -------------------------------------------------------------------------

def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Both spellings: a list of names, or a mapping name -> {condition, ...}."""
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {name: {"condition": "service_started"} for name in value}
    return {name: (spec or {"condition": "service_started"}) for name, spec in value.items()}


def env_files(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, required) for each env_file entry; the long form may say required: false."""
    found = []
    for entry in as_list(service.get("env_file")):
        if isinstance(entry, dict):
            found.append((entry["path"], bool(entry.get("required", True))))
        else:
            found.append((entry, True))
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    value = service.get("environment") or {}
    if isinstance(value, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in value)
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in value.items()}


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    is_bind: bool


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found.append(Mount(volume.get("source", ""), volume["target"], volume.get("type") == "bind"))
            continue
        source, _, rest = volume.partition(":")
        target = rest.split(":")[0] if rest else source
        is_bind = source.startswith((".", "/", "~"))
        found.append(Mount(source, target, is_bind))
    return found


def build_of(service: dict[str, Any]) -> tuple[Path, Path] | None:
    """(context directory, Dockerfile) of a service's build, resolved like Compose does."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    return context, (context / build.get("dockerfile", "Dockerfile")).resolve()


def command_of(service: dict[str, Any], dockerfile: "Dockerfile | None") -> list[str]:
    command = service.get("command")
    if command is None:
        return dockerfile.cmd if dockerfile else []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


# --- Dockerfiles -------------------------------------------------------------------------------

@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Copy:
    sources: list[str]
    destination: str
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]

    @classmethod
    def read(cls, path: Path) -> "Dockerfile":
        logical, pending = [], ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if pending and line.startswith("#"):  # a comment inside a continued instruction
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append(pending + line)
            pending = ""
        assert not pending, f"{path.name}: the last instruction ends with a line continuation"
        instructions = []
        for line in logical:
            keyword, _, args = line.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip()))
        return cls(path, instructions)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def index(self, instruction: Instruction) -> int:
        return self.instructions.index(instruction)

    @property
    def base_image(self) -> str:
        return self.all("FROM")[0].args.split()[0]

    @property
    def copies(self) -> list[Copy]:
        found = []
        for instruction in self.all("COPY") + self.all("ADD"):
            words = json.loads(instruction.args) if instruction.args.startswith("[") else shlex.split(instruction.args)
            flags = {}
            while words and words[0].startswith("--"):
                name, _, value = words.pop(0)[2:].partition("=")
                flags[name] = value
            found.append(Copy(words[:-1], words[-1], flags))
        return found

    @property
    def cmd(self) -> list[str]:
        cmds = self.all("CMD")
        assert cmds, f"{self.path.name} has no CMD"
        args = cmds[-1].args
        assert args.startswith("["), f"{self.path.name}: CMD must use the exec form (signals reach the app)"
        return json.loads(args)

    @property
    def user(self) -> str | None:
        users = self.all("USER")
        return users[-1].args.split(":")[0] if users else None

    def env(self) -> dict[str, str]:
        found = {}
        for instruction in self.all("ENV") + self.all("ARG"):
            for word in shlex.split(instruction.args):
                name, _, value = word.partition("=")
                found[name] = value
        return found


# --- Commands: do the programs and modules a container runs exist? ----------------------------

def programs(command: list[str]) -> list[list[str]]:
    """Split `sh -c "a && b"` into its simple commands; any other command is itself."""
    if len(command) >= 3 and command[0] in ("sh", "bash", "/bin/sh", "/bin/bash") and command[1] == "-c":
        return [shlex.split(part) for part in re.split(r"&&|;|\|\|", command[2]) if part.strip()]
    return [command]


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file `python -m module` would run, or None when the repository has no such module."""
    path = root.joinpath(*module.split("."))
    if (path / "__main__.py").is_file():
        return path / "__main__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def reflex_app_name(root: Path = ROOT) -> str | None:
    match = re.search(r"""app_name\s*=\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""", (root / "rxconfig.py").read_text())
    return match.group(1) if match else None


def top_level_paths_needed(program: list[str]) -> list[str]:
    """What, at the image's working directory, a program needs (so the Dockerfile must COPY it)."""
    name = program[0]
    if name in ("python", "python3") and len(program) > 2 and program[1] == "-m":
        return [program[2].split(".")[0]]
    if name == "reflex":
        app = reflex_app_name()
        return ["rxconfig.py", app] if app else ["rxconfig.py"]
    if name == "alembic":
        return ["alembic.ini", "alembic"]
    raise AssertionError(f"unknown program {name!r}: teach tests/deploy/deployfiles.py what it needs")
