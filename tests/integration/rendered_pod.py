"""The pod a rendered chart describes, laid out as files the way the kubelet would mount them:
each ConfigMap and Secret volume under a directory of the test's own, its mount path rewritten
to that directory wherever the rendered files name it, and the container's environment
resolved from the Secrets. What a test runs against it is what the pod would run."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Doc = dict[str, Any]


@dataclass
class Pod:
    args: list[str]  # the container's arguments, paths rewritten
    env: dict[str, str]  # its environment, secretKeyRefs resolved
    mounts: dict[str, Path]  # volume name -> where it was laid out
    config: Path  # the settings file the arguments name
    root: Path  # where the pod's / is

    def path(self, in_pod: str) -> Path:
        """Where a path inside the pod is laid out."""
        return self.root / in_pod.lstrip("/")


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def secret_data(secret: Doc) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return data | dict(secret.get("stringData") or {})


def lay_out(docs: list[Doc], root: Path, existing: dict[str, dict[str, str]]) -> Pod:
    """Lay out the Deployment's pod under ``root``. ``existing`` holds the Secrets the values
    name but the chart does not create (name -> key -> content)."""
    secrets = {d["metadata"]["name"]: secret_data(d) for d in docs if d["kind"] == "Secret"}
    secrets |= existing
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount_paths = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    # A mount path where a path starts (not inside one: /tmp of /tmp/x/etc), whole (not
    # /etc/callpulse of /etc/callpulse-web), rewritten in one pass.
    alternatives = "|".join(re.escape(p) for p in sorted(mount_paths.values(), key=len)[::-1])
    in_pod = re.compile(rf"(?<![\w./-])({alternatives})(?![\w.-])")

    def rewritten(text: str) -> str:
        return in_pod.sub(lambda m: str(root / m.group(1).lstrip("/")), text)

    mounts: dict[str, Path] = {}
    for name, mount_path in mount_paths.items():
        volume = volumes[name]
        target = root / mount_path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        mounts[name] = target
        if "configMap" in volume:
            files = dict(config_maps[volume["configMap"]["name"]])
        elif "secret" in volume:
            data = secrets[volume["secret"]["secretName"]]
            items = volume["secret"].get("items")
            # A key the items name but the Secret lacks fails the mount, as in a cluster.
            files = {i["path"]: data[i["key"]] for i in items} if items else dict(data)
        else:
            continue  # an emptyDir: the directory is all there is
        for file, content in files.items():
            (target / file).write_text(rewritten(content))

    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[ref["name"]][ref["key"]]
    args = [rewritten(a) for a in container["args"]]
    config = Path(args[args.index("--config") + 1])
    return Pod(args=args, env=env, mounts=mounts, config=config, root=root)
