#!/usr/bin/env python3
"""Turn the Dockerfile into a plan scripts/container-proof can run without Docker.

Used by scripts/container-proof, which `source`s the output. Reading the
Dockerfile (instead of repeating its contents in the script) is what keeps the
proof honest: the packages installed, the user created, the files copied, the
entrypoint, command and health check are the Dockerfile's own lines.

    scripts/container_proof_plan.py Dockerfile [--build-stage build] [--runtime-stage runtime]

Prints bash (every value quoted with shlex.quote):

    BUILD_COMMAND=(swift build ...)          the `swift build` of the build stage's RUN
    RUNTIME_BASE=debian:...                  the runtime stage's base image
    RUNTIME_SUITE=bookworm                   the Debian release it names
    RUNTIME_SHELL=(/bin/sh -c)               SHELL, or Docker's default
    step_run NAME=VALUE... -- 'COMMAND'      each RUN, with the ARG and ENV values
                                             Docker would put in its environment
    step_copy FROM CHOWN CHMOD DEST SRC...   each COPY ('-' for an absent flag)
    RUNTIME_USER, RUNTIME_ENV=(...), RUNTIME_WORKDIR, RUNTIME_ENTRYPOINT=(...),
    RUNTIME_CMD=(...), RUNTIME_HEALTHCHECK=(...), RUNTIME_HEALTHCHECK_TIMEOUT,
    RUNTIME_EXPOSE=(...), RUNTIME_STOPSIGNAL

Exit status 0, or 1 with a message naming the line when the Dockerfile uses
something the proof cannot reproduce (ADD, a variable form it does not expand,
a runtime stage it cannot find), so the proof fails rather than drifts.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import dataclass, field

DOCKER_DEFAULT_SHELL = ["/bin/sh", "-c"]


class PlanError(Exception):
    pass


@dataclass
class Instruction:
    line: int
    keyword: str
    rest: str


@dataclass
class Stage:
    line: int
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines and drop comments, as Docker's parser does.

    Comment lines inside a continuation are skipped too; a parser directive
    (`# syntax=...`) is a comment here.
    """
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if not buf:
            start = number
        if raw.rstrip().endswith("\\"):
            buf.append(raw.rstrip()[:-1])
            continue
        buf.append(raw)
        out.append((start, " ".join(part.strip() for part in buf if part.strip())))
        buf = []
    if buf:
        out.append((start, " ".join(part.strip() for part in buf if part.strip())))
    return out


def parse_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for number, line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(number, words[0], name))
        elif keyword == "ARG" and not stages:
            continue  # global ARGs before the first FROM: only for FROM lines
        elif not stages:
            raise PlanError(f"Dockerfile:{number}: {keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(number, keyword, rest))
    return stages


VAR = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def expand(value: str, env: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") if match.group("braced") is not None else match.group("plain")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise PlanError(f"{where}: the variable form ${{{name}}} is not one the proof expands")
        return env.get(name, "")

    return VAR.sub(replace, value)


def json_or_shell(rest: str, shell: list[str]) -> list[str]:
    """Exec form (a JSON array) as is; shell form wrapped in the stage's shell."""
    if rest.startswith("["):
        value = json.loads(rest)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PlanError(f"not a JSON array of strings: {rest}")
        return value
    return [*shell, rest]


def split_flags(rest: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(rest)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def q(value: str) -> str:
    return shlex.quote(value)


def array(name: str, values: list[str]) -> str:
    return f"{name}=({' '.join(q(v) for v in values)})"


def build_command(stage: Stage) -> list[str]:
    for instruction in stage.instructions:
        if instruction.keyword != "RUN" or "swift build" not in instruction.rest:
            continue
        for segment in re.split(r"&&|;", instruction.rest):
            words = shlex.split(segment)
            if words[:2] == ["swift", "build"]:
                return words
    raise PlanError(f"Dockerfile:{stage.line}: the build stage has no RUN with `swift build`")


def runtime_plan(stage: Stage) -> list[str]:
    lines = [f"RUNTIME_BASE={q(stage.image)}"]
    suite = re.fullmatch(r"(?:docker\.io/)?(?:library/)?debian:([a-z]+)(?:[-.].*)?", stage.image)
    if not suite:
        raise PlanError(f"Dockerfile:{stage.line}: the runtime base {stage.image} does not name a Debian release")
    lines.append(f"RUNTIME_SUITE={q(suite.group(1))}")

    args: dict[str, str] = {}
    env: dict[str, str] = {}
    shell = list(DOCKER_DEFAULT_SHELL)
    user = "0:0"
    workdir = "/"
    entrypoint: list[str] = []
    cmd: list[str] = []
    healthcheck: list[str] = []
    healthcheck_timeout = "30s"
    expose: list[str] = []
    stopsignal = "SIGTERM"
    steps: list[str] = []

    for ins in stage.instructions:
        where = f"Dockerfile:{ins.line}"
        scope = {**args, **env}
        if ins.keyword == "ARG":
            name, _, default = ins.rest.partition("=")
            args[name.strip()] = expand(default.strip().strip('"'), scope, where)
        elif ins.keyword == "ENV":
            if "=" not in ins.rest.split()[0]:
                raise PlanError(f"{where}: write ENV as NAME=VALUE")
            for word in shlex.split(ins.rest):
                name, _, value = word.partition("=")
                env[name] = expand(value, scope, where)
        elif ins.keyword == "SHELL":
            shell = json.loads(ins.rest)
        elif ins.keyword == "RUN":
            flags, _ = split_flags(ins.rest) if ins.rest.startswith("--") else ({}, [])
            if flags:
                raise PlanError(f"{where}: RUN flags ({', '.join(flags)}) are not reproduced by the proof")
            command = json_or_shell(ins.rest, shell)
            assignments = [f"{k}={v}" for k, v in {**args, **env}.items()]
            steps.append(" ".join(["step_run", *map(q, assignments), "--", *map(q, command)]))
        elif ins.keyword == "COPY":
            flags, words = split_flags(expand(ins.rest, scope, where))
            unknown = set(flags) - {"from", "chown", "chmod"}
            if unknown:
                raise PlanError(f"{where}: COPY --{', --'.join(sorted(unknown))} is not reproduced by the proof")
            if len(words) < 2:
                raise PlanError(f"{where}: COPY needs a source and a destination")
            *sources, dest = words
            steps.append(
                "step_copy "
                + " ".join(q(v) for v in [flags.get("from") or "-", flags.get("chown") or "-", flags.get("chmod") or "-", dest, *sources])
            )
        elif ins.keyword == "USER":
            user = expand(ins.rest, scope, where)
        elif ins.keyword == "WORKDIR":
            workdir = expand(ins.rest, scope, where)
        elif ins.keyword == "EXPOSE":
            expose = expand(ins.rest, scope, where).split()
        elif ins.keyword == "STOPSIGNAL":
            stopsignal = ins.rest
        elif ins.keyword == "ENTRYPOINT":
            entrypoint = json_or_shell(ins.rest, shell)
            cmd = []  # Docker: a new ENTRYPOINT resets an inherited CMD
        elif ins.keyword == "CMD":
            cmd = json_or_shell(ins.rest, shell)
        elif ins.keyword == "HEALTHCHECK":
            if ins.rest.upper() == "NONE":
                healthcheck = []
                continue
            match = re.fullmatch(r"((?:--\S+\s+)*)CMD\s+(.+)", ins.rest)
            if not match:
                raise PlanError(f"{where}: HEALTHCHECK [OPTIONS] CMD ... expected")
            flags, _ = split_flags(match.group(1))
            healthcheck_timeout = flags.get("timeout", healthcheck_timeout)
            healthcheck = json_or_shell(match.group(2), DOCKER_DEFAULT_SHELL)
        elif ins.keyword in ("LABEL",):
            continue
        else:
            raise PlanError(f"{where}: {ins.keyword} in the runtime stage is not reproduced by the proof")

    lines.append(array("RUNTIME_SHELL", shell))
    lines.extend(steps)
    lines.append(f"RUNTIME_USER={q(user)}")
    lines.append(array("RUNTIME_ENV", [f"{k}={v}" for k, v in env.items()]))
    lines.append(f"RUNTIME_WORKDIR={q(workdir)}")
    lines.append(array("RUNTIME_ENTRYPOINT", entrypoint))
    lines.append(array("RUNTIME_CMD", cmd))
    lines.append(array("RUNTIME_HEALTHCHECK", healthcheck))
    lines.append(f"RUNTIME_HEALTHCHECK_TIMEOUT={q(healthcheck_timeout)}")
    lines.append(array("RUNTIME_EXPOSE", expose))
    lines.append(f"RUNTIME_STOPSIGNAL={q(stopsignal)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dockerfile")
    parser.add_argument("--build-stage", default="build")
    parser.add_argument("--runtime-stage", default="runtime")
    options = parser.parse_args()
    try:
        with open(options.dockerfile, encoding="utf-8") as handle:
            stages = {s.name: s for s in parse_stages(handle.read()) if s.name}
        for wanted in (options.build_stage, options.runtime_stage):
            if wanted not in stages:
                raise PlanError(f"{options.dockerfile}: no stage named {wanted!r} (FROM ... AS {wanted})")
        print(f"# plan from {options.dockerfile}")
        print(array("BUILD_COMMAND", build_command(stages[options.build_stage])))
        print("\n".join(runtime_plan(stages[options.runtime_stage])))
    except (PlanError, ValueError) as error:
        print(f"container_proof_plan: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
