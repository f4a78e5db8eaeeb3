"""What a stock bazel-remote does with `PUT /ac/<key>` (Content-Type: application/json) and then
`GET /ac/<key>` (Accept: application/json), with the real protobuf library (Debian's
python3-protobuf) instead of Go's: parse the body strictly as a REAPI ActionResult (unknown
fields, bad int64 or timestamps, bad base64 are errors, as with Go's protojson), fill in
executionMetadata.worker when it is empty, check bazel-remote's validate.ActionResult rules,
store it as binary protobuf and answer it re-encoded as JSON.

The schema is the subset of build/bazel/remote/execution/v2/remote_execution.proto that
ActionResult uses, with the same names and field numbers.

stdin: the JSON body. stdout: {"ok": true, "json": <answer>} or {"ok": false, "error": "..."}.
"""

import json
import re
import sys

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, json_format
from google.protobuf import message_factory, timestamp_pb2, wrappers_pb2

F = descriptor_pb2.FieldDescriptorProto
PKG = "build.bazel.remote.execution.v2"


def build_pool():
    pool = descriptor_pool.DescriptorPool()
    for mod in (timestamp_pb2, duration_pb2, wrappers_pb2, any_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(fdp)
        pool.Add(fdp)
    fd = descriptor_pb2.FileDescriptorProto(
        name="kiln_test/reapi_action_result.proto",
        package=PKG,
        syntax="proto3",
        dependency=[
            "google/protobuf/timestamp.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/wrappers.proto",
            "google/protobuf/any.proto",
        ],
    )

    def message(name, *fields):
        m = fd.message_type.add(name=name)
        for fname, number, ftype, type_name, repeated in fields:
            f = m.field.add(name=fname, number=number, type=ftype)
            f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            if type_name:
                f.type_name = type_name

    s, i64, i32, b, by, m = (F.TYPE_STRING, F.TYPE_INT64, F.TYPE_INT32, F.TYPE_BOOL,
                             F.TYPE_BYTES, F.TYPE_MESSAGE)
    ts, local = ".google.protobuf.Timestamp", lambda n: f".{PKG}.{n}"
    message("Digest", ("hash", 1, s, None, False), ("size_bytes", 2, i64, None, False))
    message("NodeProperty", ("name", 1, s, None, False), ("value", 2, s, None, False))
    message("NodeProperties", ("properties", 1, m, local("NodeProperty"), True),
            ("mtime", 2, m, ts, False),
            ("unix_mode", 3, m, ".google.protobuf.UInt32Value", False))
    message("OutputFile", ("path", 1, s, None, False), ("digest", 2, m, local("Digest"), False),
            ("is_executable", 4, b, None, False), ("contents", 5, by, None, False),
            ("node_properties", 7, m, local("NodeProperties"), False))
    message("OutputSymlink", ("path", 1, s, None, False), ("target", 2, s, None, False),
            ("node_properties", 4, m, local("NodeProperties"), False))
    message("OutputDirectory", ("path", 1, s, None, False),
            ("tree_digest", 3, m, local("Digest"), False),
            ("is_topologically_sorted", 4, b, None, False),
            ("root_directory_digest", 5, m, local("Digest"), False))
    message("ExecutedActionMetadata", ("worker", 1, s, None, False),
            ("queued_timestamp", 2, m, ts, False), ("worker_start_timestamp", 3, m, ts, False),
            ("worker_completed_timestamp", 4, m, ts, False),
            ("input_fetch_start_timestamp", 5, m, ts, False),
            ("input_fetch_completed_timestamp", 6, m, ts, False),
            ("execution_start_timestamp", 7, m, ts, False),
            ("execution_completed_timestamp", 8, m, ts, False),
            ("output_upload_start_timestamp", 9, m, ts, False),
            ("output_upload_completed_timestamp", 10, m, ts, False),
            ("auxiliary_metadata", 11, m, ".google.protobuf.Any", True),
            ("virtual_execution_duration", 12, m, ".google.protobuf.Duration", False))
    message("ActionResult", ("output_files", 2, m, local("OutputFile"), True),
            ("output_directories", 3, m, local("OutputDirectory"), True),
            ("exit_code", 4, i32, None, False), ("stdout_raw", 5, by, None, False),
            ("stdout_digest", 6, m, local("Digest"), False), ("stderr_raw", 7, by, None, False),
            ("stderr_digest", 8, m, local("Digest"), False),
            ("execution_metadata", 9, m, local("ExecutedActionMetadata"), False),
            ("output_file_symlinks", 10, m, local("OutputSymlink"), True),
            ("output_directory_symlinks", 11, m, local("OutputSymlink"), True),
            ("output_symlinks", 12, m, local("OutputSymlink"), True))
    pool.Add(fd)
    return pool


def message_class(pool, name):
    desc = pool.FindMessageTypeByName(f"{PKG}.{name}")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_digest(d, what):
    if d.size_bytes < 0:
        raise ValueError(f"{what}: negative size")
    if not HEX64.match(d.hash):
        raise ValueError(f"{what}: invalid hash {d.hash!r}")


def validate(ar):
    """bazel-remote's utils/validate ActionResult rules."""
    for f in ar.output_files:
        if not f.path:
            raise ValueError("empty path")
        if f.path.startswith("/"):
            raise ValueError(f"absolute path in output file: {f.path!r}")
        if not f.HasField("digest"):
            raise ValueError(f"nil Digest for path {f.path!r}")
        check_digest(f.digest, f.path)
    for group in (ar.output_file_symlinks, ar.output_symlinks, ar.output_directory_symlinks):
        for s in group:
            if not s.path or not s.target or s.path.startswith("/"):
                raise ValueError(f"bad symlink {s.path!r} -> {s.target!r}")
    for name in ("stdout_digest", "stderr_digest"):
        if ar.HasField(name):
            check_digest(getattr(ar, name), name)


def main():
    pool = build_pool()
    cls = message_class(pool, "ActionResult")
    ar = cls()
    try:
        json_format.Parse(sys.stdin.read(), ar)  # strict: unknown fields are errors
        if not ar.execution_metadata.worker:
            ar.execution_metadata.worker = "127.0.0.1"
        validate(ar)
    except Exception as e:  # noqa: BLE001 - the error is the answer
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        return
    stored = ar.SerializeToString()
    back = cls()
    back.ParseFromString(stored)
    print(json.dumps({"ok": True, "json": json_format.MessageToJson(back)}))


main()
