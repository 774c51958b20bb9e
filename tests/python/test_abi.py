"""The ctypes declarations mirror include/flashcore.h: struct fields (names, order, types), the
version and the status groups. A change of the header that the bindings miss fails here."""
import ctypes
import re

import pytest

import flashcore
from conftest import REPO
from flashcore import _lib
from flashcore._errors import error_class

HEADER = REPO / "include" / "flashcore.h"

C_TYPES = {"void *": ctypes.c_void_p, "const int32_t *": ctypes.c_void_p, "int": ctypes.c_int,
           "float": ctypes.c_float, "int64_t": ctypes.c_int64, "char": ctypes.c_char,
           "fc_dtype": ctypes.c_int, "fc_device_type": ctypes.c_int}


def _header():
    if not HEADER.is_file():
        pytest.skip("not in a source checkout")
    return HEADER.read_text()


def _struct_fields(text, name):
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    fields = []
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        m = re.match(r"(.*?[\s*])(\w+)(\[(\w+)\])?$", decl)
        ctype, fname, count = m.group(1).strip(), m.group(2), m.group(4)
        ctype = re.sub(r"\s*\*", " *", ctype).strip()
        fields.append((fname, ctype, count))
    return fields


@pytest.mark.parametrize("cname,pycls", [("fc_tensor", _lib.FcTensor),
                                         ("fc_attention_params", _lib.FcAttentionParams),
                                         ("fc_device_info", _lib.FcDeviceInfo)])
def test_struct_mirrors_header(cname, pycls):
    fields = _struct_fields(_header(), cname)
    assert [f[0] for f in fields] == [f[0] for f in pycls._fields_]
    for (fname, ctype, count), (_, pytype) in zip(fields, pycls._fields_):
        base = C_TYPES[ctype]
        if count is not None:
            n = _lib.FC_MAX_DIMS if count == "FC_MAX_DIMS" else int(count)
            assert pytype._type_ == base and pytype._length_ == n, fname
        else:
            assert pytype == base, fname


def test_version_matches_header():
    text = _header()
    major, minor, patch = (int(re.search(rf"#define FLASHCORE_VERSION_{p} (\d+)", text).group(1))
                           for p in ("MAJOR", "MINOR", "PATCH"))
    assert _lib.ABI_VERSION == (major, minor)
    assert flashcore.__version__ == f"{major}.{minor}.{patch}"


def test_constants_match_header():
    text = _header()
    for name in ("FC_DTYPE_F16", "FC_DTYPE_BF16", "FC_DTYPE_F32", "FC_DEVICE_CPU", "FC_DEVICE_CUDA",
                 "FC_MAX_DIMS"):
        value = int(re.search(rf"\b{name}\s*=?\s*(\d+)", text).group(1))
        assert getattr(_lib, name) == value, name


def test_every_status_maps_to_its_group():
    text = _header()
    statuses = {n: int(v) for n, v in re.findall(r"\b(FC_(?:SUCCESS|ERROR_\w+))\s*=\s*(\d+)", text)}
    assert statuses["FC_SUCCESS"] == 0
    L = _lib.lib()
    for name, value in statuses.items():
        assert L.fc_status_name(value).decode() == name
        if value:
            cls = error_class(value)
            expect = {1: flashcore.BadParameterError, 2: flashcore.NotSupportedError,
                      3: flashcore.CudaError, 4: flashcore.InternalError}[value // 1000]
            assert cls is expect, name


def test_every_function_is_declared():
    text = _header()
    names = set(re.findall(r"FC_API [^;(]*?\b(fc_\w+)\(", text))
    used = {"fc_version", "fc_version_string", "fc_status_name", "fc_status_string", "fc_last_error",
            "fc_has_cuda", "fc_cuda_device_count", "fc_cuda_device_info", "fc_build_info",
            "fc_attention_params_init", "fc_attention_workspace_size", "fc_attention_forward",
            "fc_dtype_size", "fc_cuda_synchronize"}
    assert used <= names
    assert used == set(_lib._SIGNATURES)
