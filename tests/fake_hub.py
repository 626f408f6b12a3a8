"""A local HTTP server that speaks the part of the Hugging Face hub's API that huggingface_hub's
``create_repo``, ``create_branch`` and ``upload_folder`` call (its create_commit path: hf_xet off), for tests.

What huggingface_hub 2.4 sends, and what this server answers (read from its _commit_api.py and lfs.py):

- ``POST /api/repos/create`` {name, organization, visibility?, type} -> {url, name, id}; 409 + {url} if it exists.
- ``POST /api/models/{repo}/branch/{branch}`` -> {}; 409 if it exists.
- ``POST /api/validate-yaml`` {content, repoType} (README.md's front matter) -> {errors, warnings}.
- ``POST /api/models/{repo}/preupload/{rev}`` {files: [{path, sample, size}]} ->
  {files: [{path, uploadMode: "lfs" | "regular", shouldIgnore, oid}]}: *.gguf (and any binary sample) is LFS.
- ``POST /{repo}.git/info/lfs/objects/batch`` {operation: upload, objects: [{oid, size}]} -> per object an
  ``upload`` action (a PUT to this server, no auth: like S3's signed URL) and a ``verify`` action.
- ``PUT /lfs-upload/{oid}``: the bytes; stored only when their sha256 is the oid.  ``POST /lfs-verify`` {oid, size}.
- ``POST /api/models/{repo}/commit/{rev}``: NDJSON — a header line, then ``file`` (base64 content) and
  ``lfsFile`` (oid, size: must have been uploaded) lines -> {commitUrl, commitOid}.
- ``GET /api/models/{repo}/revision/{rev}`` (repo_info) -> {id, sha, siblings}.
- ``GET /api/agent-harnesses`` (fetched, without a token, to build the User-Agent) -> 404: no registry.

Every request is recorded (method, path, whether it carried the right token) in ``FakeHub.requests``; the
committed files, bytes and all, in ``FakeHub.repos[repo]["branches"][branch]``. API calls without the
token get 401, like the hub.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


@dataclass
class FakeHub:
    token: str
    url: str = ""
    repos: dict[str, dict] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)
    commits: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def files(self, repo: str, branch: str = "main") -> dict[str, bytes]:
        return self.repos[repo]["branches"][branch]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub  # set on the subclass serve() makes

    def log_message(self, *args):
        pass

    # -- plumbing ------------------------------------------------------------------------------------

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        ok = self._authorised()
        with self.hub.lock:
            self.hub.requests.append((method, path, ok))
        if path.startswith("/lfs-upload/"):  # a pre-signed storage URL: no token, like S3
            return self._lfs_put(path.rsplit("/", 1)[1], body)
        if path == "/api/agent-harnesses":  # huggingface_hub's user-agent registry (public): none here
            return self._send(404, {"error": "fake hub: no agent registry"})
        if not ok:
            return self._send(401, {"error": "Invalid credentials in Authorization header"})
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body))
        if method == "POST" and path == "/lfs-verify":
            info = json.loads(body)
            return self._send(200 if info["oid"] in self.hub.lfs else 404, {})
        if method == "POST" and path.endswith(".git/info/lfs/objects/batch"):
            return self._lfs_batch(path.removeprefix("/").removesuffix(".git/info/lfs/objects/batch"), json.loads(body))
        parts = path.split("/")
        # /api/models/{ns}/{name}/{action}/{rev}
        if len(parts) >= 7 and parts[1:3] == ["api", "models"]:
            repo, action, rev = f"{parts[3]}/{parts[4]}", parts[5], unquote("/".join(parts[6:]))
            if repo not in self.hub.repos:
                return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            handler = {("POST", "preupload"): self._preupload, ("POST", "commit"): self._commit,
                       ("POST", "branch"): self._branch, ("GET", "revision"): self._revision}.get((method, action))
            if handler is not None:
                return handler(repo, rev, body)
        return self._send(404, {"error": f"fake hub: no route for {method} {path}"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    # -- endpoints -----------------------------------------------------------------------------------

    def _create(self, req: dict) -> None:
        repo = f"{req['organization']}/{req['name']}"
        url = f"{self.hub.url}/{repo}"
        with self.hub.lock:
            if repo in self.hub.repos:
                return self._send(409, {"error": "You already created this model repo", "url": url})
            self.hub.repos[repo] = {"visibility": req.get("visibility", "public"), "type": req.get("type"),
                                    "branches": {"main": {}}}
        self._send(200, {"url": url, "name": repo, "id": repo})

    def _branch(self, repo: str, branch: str, body: bytes) -> None:
        branches = self.hub.repos[repo]["branches"]
        if branch in branches:
            return self._send(409, {"error": "Reference already exists"})
        branches[branch] = dict(branches["main"])
        self._send(200, {})

    def _validate_yaml(self, req: dict) -> None:
        content = req["content"]
        if content.startswith("---\n"):
            try:
                meta = yaml.safe_load(content[4:].split("\n---\n", 1)[0])
            except yaml.YAMLError as e:
                return self._send(400, {"errors": [{"message": str(e)}]})
            if not isinstance(meta, dict):
                return self._send(400, {"errors": [{"message": "metadata is not a mapping"}]})
        self._send(200, {"errors": [], "warnings": []})

    def _preupload(self, repo: str, rev: str, body: bytes) -> None:
        req = json.loads(body)
        files = []
        for f in req["files"]:
            sample = base64.b64decode(f["sample"])
            lfs = f["path"].endswith(".gguf") or b"\0" in sample
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": None})
        self._send(200, {"files": files, "commitOid": "0" * 40})

    def _lfs_batch(self, repo: str, req: dict) -> None:
        objects = []
        for obj in req["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs:
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{obj['oid']}"},
                                    "verify": {"href": f"{self.hub.url}/lfs-verify"}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, oid: str, body: bytes) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            return self._send(400, {"error": "sha256 mismatch"})
        with self.hub.lock:
            self.hub.lfs[oid] = body
        self.send_response(200)
        self.send_header("ETag", '"' + hashlib.md5(body).hexdigest() + '"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _commit(self, repo: str, rev: str, body: bytes) -> None:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header, ops = lines[0], lines[1:]
        if header.get("key") != "header":
            return self._send(400, {"error": "the first line must be the header"})
        branch = self.hub.repos[repo]["branches"].get(rev)
        if branch is None:
            return self._send(404, {"error": f"Invalid rev id: {rev}"}, {"X-Error-Code": "RevisionNotFound"})
        staged = {}
        for op in ops:
            value = op["value"]
            if op["key"] == "file":
                staged[value["path"]] = base64.b64decode(value["content"])
            elif op["key"] == "lfsFile":
                data = self.hub.lfs.get(value["oid"])
                if data is None or len(data) != value["size"]:
                    return self._send(400, {"error": f"LFS object {value['oid']} was not uploaded"})
                staged[value["path"]] = data
            else:
                return self._send(400, {"error": f"fake hub: unsupported operation {op['key']}"})
        oid = hashlib.sha1(body).hexdigest()
        with self.hub.lock:
            branch.update(staged)
            self.hub.commits.append({"repo": repo, "revision": rev, "summary": header["value"].get("summary"),
                                     "lfs": [op["value"]["path"] for op in ops if op["key"] == "lfsFile"],
                                     "regular": [op["value"]["path"] for op in ops if op["key"] == "file"]})
        self._send(200, {"commitUrl": f"{self.hub.url}/{repo}/commit/{oid}", "commitOid": oid,
                         "pullRequestUrl": None})

    def _revision(self, repo: str, rev: str, body: bytes) -> None:
        branch = self.hub.repos[repo]["branches"].get(rev, {})
        self._send(200, {"id": repo, "modelId": repo, "sha": "0" * 40, "private": False,
                         "siblings": [{"rfilename": name} for name in sorted(branch)]})


def serve(token: str) -> FakeHub:
    """Start the fake hub on 127.0.0.1 (a free port); accepts API calls that carry ``token``."""
    hub = FakeHub(token=token)
    handler = type("Handler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    hub.server = server
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hub
