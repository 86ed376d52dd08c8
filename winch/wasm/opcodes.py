"""The opcode table: every operator of the current WebAssembly core spec and its proposals.

One row per operator.  This table is the only list of opcodes in the project: the decoder
reads immediates by `imm`, the validator checks `sig` (or the rule named by `imm`/`family`),
the compiler dispatches on `family`, the generator draws from it, and an opcode whose
`feature` is outside the supported scope is rejected by name (`Unsupported(feature)`).

Signatures are written compactly: `i`=i32, `I`=i64, `f`=f32, `F`=f64, `v`=v128, and
`"ii>i"` means `[i32 i32] -> [i32]`.  `sig=None` marks operators whose typing depends on
immediates or context (control flow, locals, calls, memory ops with an address type, ...).

Invariants: `(prefix, code)` is unique; `name` is unique; rows are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from winch.wasm.types import F32, F64, I32, I64, V128

# -- immediate kinds -----------------------------------------------------------------------
NONE = "none"
BLOCKTYPE = "blocktype"
LABEL = "label"
BR_TABLE = "br_table"
FUNC = "func"
CALL_INDIRECT = "call_indirect"  # typeidx tableidx
LOCAL = "local"
GLOBAL = "global"
TABLE = "table"
MEMARG = "memarg"
MEM = "mem"  # memory index (memory.size / memory.grow / memory.fill)
I32_CONST = "i32"
I64_CONST = "i64"
F32_CONST = "f32"
F64_CONST = "f64"
V128_CONST = "v128"
SELECT_T = "select_t"
HEAPTYPE = "heaptype"
LANE = "lane"
MEMARG_LANE = "memarg_lane"
SHUFFLE = "shuffle"
DATA_MEM = "data_mem"  # memory.init dataidx memidx
DATA = "data"
MEM_MEM = "mem_mem"  # memory.copy dst src
ELEM_TABLE = "elem_table"  # table.init elemidx tableidx
ELEM = "elem"
TABLE_TABLE = "table_table"  # table.copy dst src
# Immediates of operators outside the scope: never decoded, the feature is rejected first.
FOREIGN = "foreign"

# -- features ------------------------------------------------------------------------------
MVP = "mvp"
SIGN_EXT = "sign-extension"
SAT_TRUNC = "nontrapping-float-to-int"
BULK = "bulk-memory"
REFTYPES = "reference-types"
SIMD = "simd"
RELAXED_SIMD = "relaxed-simd"
TAIL_CALL = "tail-call"
EXCEPTIONS = "exceptions"
LEGACY_EXCEPTIONS = "legacy-exceptions"
FUNC_REFS = "function-references"
GC = "gc"
THREADS = "threads"
WIDE_ARITH = "wide-arithmetic"
STACK_SWITCHING = "stack-switching"
SHARED_EVERYTHING = "shared-everything-threads"
CUSTOM_DESCRIPTORS = "custom-descriptors"

# -- type-definition forms ------------------------------------------------------------------
#: The leading byte of a type-section entry, for every form other than `0x60` (a function
#: type, the only one in scope), by the proposal that defines it and what it is.  A module
#: using one is `Unsupported(feature)` at that byte, never malformed: the byte is a real
#: form, only not one we implement.  Any other byte is a malformed type form.
FOREIGN_TYPE_FORMS = {
    0x4E: (GC, "recursive type group"),
    0x50: (GC, "subtype declaration"),
    0x4F: (GC, "final subtype declaration"),
    0x5F: (GC, "struct type"),
    0x5E: (GC, "array type"),
    0x5D: (STACK_SWITCHING, "continuation type"),
    0x65: (SHARED_EVERYTHING, "shared composite type"),
    0x4D: (CUSTOM_DESCRIPTORS, "descriptor clause"),
    0x4C: (CUSTOM_DESCRIPTORS, "describes clause"),
}

#: Operator features the front end decodes and validates.
FRONTEND_FEATURES = frozenset((MVP, SIGN_EXT, SAT_TRUNC, BULK, REFTYPES, SIMD))

_CODES = {"i": I32, "I": I64, "f": F32, "F": F64, "v": V128}


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    prefix: int  # 0 for single-byte opcodes, else 0xFB/0xFC/0xFD/0xFE
    code: int
    imm: str
    params: tuple | None  # None: typed by a rule, not a fixed signature
    results: tuple | None
    feature: str
    family: str
    align: int = 0  # log2 of the natural alignment of memory operators
    lanes: int = 0  # lane count for lane-indexed SIMD operators

    @property
    def has_sig(self) -> bool:
        return self.params is not None


OPS: list[Op] = []


def _sig(s: str | None):
    if s is None:
        return None, None
    p, r = s.split(">")
    return tuple(_CODES[c] for c in p), tuple(_CODES[c] for c in r)


def _op(prefix, code, name, imm=NONE, sig=None, feature=MVP, family="", align=0, lanes=0):
    params, results = _sig(sig)
    OPS.append(Op(name, prefix, code, imm, params, results, feature, family, align, lanes))


# -- control ---------------------------------------------------------------------------------
for code, name, imm, feat in (
    (0x00, "unreachable", NONE, MVP), (0x01, "nop", NONE, MVP),
    (0x02, "block", BLOCKTYPE, MVP), (0x03, "loop", BLOCKTYPE, MVP), (0x04, "if", BLOCKTYPE, MVP),
    (0x05, "else", NONE, MVP),
    (0x06, "try", FOREIGN, LEGACY_EXCEPTIONS), (0x07, "catch", FOREIGN, LEGACY_EXCEPTIONS),
    (0x08, "throw", FOREIGN, EXCEPTIONS), (0x09, "rethrow", FOREIGN, LEGACY_EXCEPTIONS),
    (0x0A, "throw_ref", FOREIGN, EXCEPTIONS),
    (0x0B, "end", NONE, MVP), (0x0C, "br", LABEL, MVP), (0x0D, "br_if", LABEL, MVP),
    (0x0E, "br_table", BR_TABLE, MVP), (0x0F, "return", NONE, MVP),
    (0x10, "call", FUNC, MVP), (0x11, "call_indirect", CALL_INDIRECT, MVP),
    (0x12, "return_call", FOREIGN, TAIL_CALL), (0x13, "return_call_indirect", FOREIGN, TAIL_CALL),
    (0x14, "call_ref", FOREIGN, FUNC_REFS), (0x15, "return_call_ref", FOREIGN, TAIL_CALL),
    (0x18, "delegate", FOREIGN, LEGACY_EXCEPTIONS), (0x19, "catch_all", FOREIGN, LEGACY_EXCEPTIONS),
    (0x1A, "drop", NONE, MVP), (0x1B, "select", NONE, MVP), (0x1C, "select_t", SELECT_T, REFTYPES),
    (0x1F, "try_table", FOREIGN, EXCEPTIONS),
):
    _op(0, code, name, imm, None, feat, "control")

_op(0, 0x20, "local.get", LOCAL, family="local")
_op(0, 0x21, "local.set", LOCAL, family="local")
_op(0, 0x22, "local.tee", LOCAL, family="local")
_op(0, 0x23, "global.get", GLOBAL, family="global")
_op(0, 0x24, "global.set", GLOBAL, family="global")
_op(0, 0x25, "table.get", TABLE, feature=REFTYPES, family="table")
_op(0, 0x26, "table.set", TABLE, feature=REFTYPES, family="table")

# -- memory: (code, name, value type, log2 natural alignment) --------------------------------
for code, name, t, al in (
    (0x28, "i32.load", "i", 2), (0x29, "i64.load", "I", 3), (0x2A, "f32.load", "f", 2),
    (0x2B, "f64.load", "F", 3), (0x2C, "i32.load8_s", "i", 0), (0x2D, "i32.load8_u", "i", 0),
    (0x2E, "i32.load16_s", "i", 1), (0x2F, "i32.load16_u", "i", 1),
    (0x30, "i64.load8_s", "I", 0), (0x31, "i64.load8_u", "I", 0), (0x32, "i64.load16_s", "I", 1),
    (0x33, "i64.load16_u", "I", 1), (0x34, "i64.load32_s", "I", 2), (0x35, "i64.load32_u", "I", 2),
):
    _op(0, code, name, MEMARG, ">" + t, family="load", align=al)
for code, name, t, al in (
    (0x36, "i32.store", "i", 2), (0x37, "i64.store", "I", 3), (0x38, "f32.store", "f", 2),
    (0x39, "f64.store", "F", 3), (0x3A, "i32.store8", "i", 0), (0x3B, "i32.store16", "i", 1),
    (0x3C, "i64.store8", "I", 0), (0x3D, "i64.store16", "I", 1), (0x3E, "i64.store32", "I", 2),
):
    _op(0, code, name, MEMARG, t + ">", family="store", align=al)
_op(0, 0x3F, "memory.size", MEM, family="memory")
_op(0, 0x40, "memory.grow", MEM, family="memory")

_op(0, 0x41, "i32.const", I32_CONST, ">i", family="const")
_op(0, 0x42, "i64.const", I64_CONST, ">I", family="const")
_op(0, 0x43, "f32.const", F32_CONST, ">f", family="const")
_op(0, 0x44, "f64.const", F64_CONST, ">F", family="const")


# -- numeric ---------------------------------------------------------------------------------
def _numeric(start: int, names: str, sig: str, family: str, feature=MVP, prefix=0):
    for i, name in enumerate(names.split()):
        if name != "-":
            _op(prefix, start + i, name, NONE, sig, feature, family)


_numeric(0x45, "i32.eqz", "i>i", "test")
_numeric(0x46, "i32.eq i32.ne i32.lt_s i32.lt_u i32.gt_s i32.gt_u i32.le_s i32.le_u i32.ge_s i32.ge_u",
         "ii>i", "cmp")
_numeric(0x50, "i64.eqz", "I>i", "test")
_numeric(0x51, "i64.eq i64.ne i64.lt_s i64.lt_u i64.gt_s i64.gt_u i64.le_s i64.le_u i64.ge_s i64.ge_u",
         "II>i", "cmp")
_numeric(0x5B, "f32.eq f32.ne f32.lt f32.gt f32.le f32.ge", "ff>i", "cmp")
_numeric(0x61, "f64.eq f64.ne f64.lt f64.gt f64.le f64.ge", "FF>i", "cmp")
_numeric(0x67, "i32.clz i32.ctz i32.popcnt", "i>i", "unop")
_numeric(0x6A, "i32.add i32.sub i32.mul i32.div_s i32.div_u i32.rem_s i32.rem_u i32.and i32.or "
               "i32.xor i32.shl i32.shr_s i32.shr_u i32.rotl i32.rotr", "ii>i", "binop")
_numeric(0x79, "i64.clz i64.ctz i64.popcnt", "I>I", "unop")
_numeric(0x7C, "i64.add i64.sub i64.mul i64.div_s i64.div_u i64.rem_s i64.rem_u i64.and i64.or "
               "i64.xor i64.shl i64.shr_s i64.shr_u i64.rotl i64.rotr", "II>I", "binop")
_numeric(0x8B, "f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt", "f>f", "unop")
_numeric(0x92, "f32.add f32.sub f32.mul f32.div f32.min f32.max f32.copysign", "ff>f", "binop")
_numeric(0x99, "f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt", "F>F", "unop")
_numeric(0xA0, "f64.add f64.sub f64.mul f64.div f64.min f64.max f64.copysign", "FF>F", "binop")
for code, name, sig in (
    (0xA7, "i32.wrap_i64", "I>i"), (0xA8, "i32.trunc_f32_s", "f>i"), (0xA9, "i32.trunc_f32_u", "f>i"),
    (0xAA, "i32.trunc_f64_s", "F>i"), (0xAB, "i32.trunc_f64_u", "F>i"),
    (0xAC, "i64.extend_i32_s", "i>I"), (0xAD, "i64.extend_i32_u", "i>I"),
    (0xAE, "i64.trunc_f32_s", "f>I"), (0xAF, "i64.trunc_f32_u", "f>I"),
    (0xB0, "i64.trunc_f64_s", "F>I"), (0xB1, "i64.trunc_f64_u", "F>I"),
    (0xB2, "f32.convert_i32_s", "i>f"), (0xB3, "f32.convert_i32_u", "i>f"),
    (0xB4, "f32.convert_i64_s", "I>f"), (0xB5, "f32.convert_i64_u", "I>f"),
    (0xB6, "f32.demote_f64", "F>f"),
    (0xB7, "f64.convert_i32_s", "i>F"), (0xB8, "f64.convert_i32_u", "i>F"),
    (0xB9, "f64.convert_i64_s", "I>F"), (0xBA, "f64.convert_i64_u", "I>F"),
    (0xBB, "f64.promote_f32", "f>F"),
    (0xBC, "i32.reinterpret_f32", "f>i"), (0xBD, "i64.reinterpret_f64", "F>I"),
    (0xBE, "f32.reinterpret_i32", "i>f"), (0xBF, "f64.reinterpret_i64", "I>F"),
):
    _op(0, code, name, NONE, sig, family="conv")
_numeric(0xC0, "i32.extend8_s i32.extend16_s", "i>i", "unop", SIGN_EXT)
_numeric(0xC2, "i64.extend8_s i64.extend16_s i64.extend32_s", "I>I", "unop", SIGN_EXT)

# -- references ------------------------------------------------------------------------------
_op(0, 0xD0, "ref.null", HEAPTYPE, feature=REFTYPES, family="ref")
_op(0, 0xD1, "ref.is_null", NONE, feature=REFTYPES, family="ref")
_op(0, 0xD2, "ref.func", FUNC, feature=REFTYPES, family="ref")
_op(0, 0xD3, "ref.eq", FOREIGN, feature=GC, family="ref")
_op(0, 0xD4, "ref.as_non_null", FOREIGN, feature=FUNC_REFS, family="ref")
_op(0, 0xD5, "br_on_null", FOREIGN, feature=FUNC_REFS, family="control")
_op(0, 0xD6, "br_on_non_null", FOREIGN, feature=FUNC_REFS, family="control")

# -- 0xFC: saturating truncation, bulk memory, tables ----------------------------------------
for code, name, sig in (
    (0, "i32.trunc_sat_f32_s", "f>i"), (1, "i32.trunc_sat_f32_u", "f>i"),
    (2, "i32.trunc_sat_f64_s", "F>i"), (3, "i32.trunc_sat_f64_u", "F>i"),
    (4, "i64.trunc_sat_f32_s", "f>I"), (5, "i64.trunc_sat_f32_u", "f>I"),
    (6, "i64.trunc_sat_f64_s", "F>I"), (7, "i64.trunc_sat_f64_u", "F>I"),
):
    _op(0xFC, code, name, NONE, sig, SAT_TRUNC, "conv")
for code, name, imm, feat, fam in (
    (8, "memory.init", DATA_MEM, BULK, "memory"), (9, "data.drop", DATA, BULK, "memory"),
    (10, "memory.copy", MEM_MEM, BULK, "memory"), (11, "memory.fill", MEM, BULK, "memory"),
    (12, "table.init", ELEM_TABLE, BULK, "table"), (13, "elem.drop", ELEM, BULK, "table"),
    (14, "table.copy", TABLE_TABLE, BULK, "table"), (15, "table.grow", TABLE, REFTYPES, "table"),
    (16, "table.size", TABLE, REFTYPES, "table"), (17, "table.fill", TABLE, REFTYPES, "table"),
):
    _op(0xFC, code, name, imm, None, feat, fam)
# the wide-arithmetic proposal (wasmtime enables it): named, so it is rejected by name
for code, name in ((19, "i64.add128"), (20, "i64.sub128"), (21, "i64.mul_wide_s"),
                   (22, "i64.mul_wide_u")):
    _op(0xFC, code, name, FOREIGN, feature=WIDE_ARITH, family="binop")

# -- 0xFD: SIMD ------------------------------------------------------------------------------
for code, name, al in (
    (0, "v128.load", 4), (1, "v128.load8x8_s", 3), (2, "v128.load8x8_u", 3),
    (3, "v128.load16x4_s", 3), (4, "v128.load16x4_u", 3), (5, "v128.load32x2_s", 3),
    (6, "v128.load32x2_u", 3), (7, "v128.load8_splat", 0), (8, "v128.load16_splat", 1),
    (9, "v128.load32_splat", 2), (10, "v128.load64_splat", 3),
    (92, "v128.load32_zero", 2), (93, "v128.load64_zero", 3),
):
    _op(0xFD, code, name, MEMARG, ">v", SIMD, "load", align=al)
_op(0xFD, 11, "v128.store", MEMARG, "v>", SIMD, "store", align=4)
_op(0xFD, 12, "v128.const", V128_CONST, ">v", SIMD, "const")
_op(0xFD, 13, "i8x16.shuffle", SHUFFLE, "vv>v", SIMD, "simd")
_op(0xFD, 14, "i8x16.swizzle", NONE, "vv>v", SIMD, "simd")
for code, name, t in ((15, "i8x16.splat", "i"), (16, "i16x8.splat", "i"), (17, "i32x4.splat", "i"),
                      (18, "i64x2.splat", "I"), (19, "f32x4.splat", "f"), (20, "f64x2.splat", "F")):
    _op(0xFD, code, name, NONE, t + ">v", SIMD, "simd")
for code, name, sig, lanes in (
    (21, "i8x16.extract_lane_s", "v>i", 16), (22, "i8x16.extract_lane_u", "v>i", 16),
    (23, "i8x16.replace_lane", "vi>v", 16), (24, "i16x8.extract_lane_s", "v>i", 8),
    (25, "i16x8.extract_lane_u", "v>i", 8), (26, "i16x8.replace_lane", "vi>v", 8),
    (27, "i32x4.extract_lane", "v>i", 4), (28, "i32x4.replace_lane", "vi>v", 4),
    (29, "i64x2.extract_lane", "v>I", 2), (30, "i64x2.replace_lane", "vI>v", 2),
    (31, "f32x4.extract_lane", "v>f", 4), (32, "f32x4.replace_lane", "vf>v", 4),
    (33, "f64x2.extract_lane", "v>F", 2), (34, "f64x2.replace_lane", "vF>v", 2),
):
    _op(0xFD, code, name, LANE, sig, SIMD, "simd", lanes=lanes)
_CMP = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"
for start, shape in ((35, "i8x16"), (45, "i16x8"), (55, "i32x4")):
    _numeric(start, " ".join(f"{shape}.{c}" for c in _CMP.split()), "vv>v", "simd", SIMD, 0xFD)
_numeric(65, "f32x4.eq f32x4.ne f32x4.lt f32x4.gt f32x4.le f32x4.ge", "vv>v", "simd", SIMD, 0xFD)
_numeric(71, "f64x2.eq f64x2.ne f64x2.lt f64x2.gt f64x2.le f64x2.ge", "vv>v", "simd", SIMD, 0xFD)
_numeric(77, "v128.not", "v>v", "simd", SIMD, 0xFD)
_numeric(78, "v128.and v128.andnot v128.or v128.xor", "vv>v", "simd", SIMD, 0xFD)
_numeric(82, "v128.bitselect", "vvv>v", "simd", SIMD, 0xFD)
_numeric(83, "v128.any_true", "v>i", "simd", SIMD, 0xFD)
for code, name, al, lanes in (
    (84, "v128.load8_lane", 0, 16), (85, "v128.load16_lane", 1, 8),
    (86, "v128.load32_lane", 2, 4), (87, "v128.load64_lane", 3, 2),
):
    _op(0xFD, code, name, MEMARG_LANE, "v>v", SIMD, "load", align=al, lanes=lanes)
for code, name, al, lanes in (
    (88, "v128.store8_lane", 0, 16), (89, "v128.store16_lane", 1, 8),
    (90, "v128.store32_lane", 2, 4), (91, "v128.store64_lane", 3, 2),
):
    _op(0xFD, code, name, MEMARG_LANE, "v>", SIMD, "store", align=al, lanes=lanes)

# Unary v128 -> v128, binary (v128 v128) -> v128, v128 -> i32, shifts (v128 i32) -> v128.
_SIMD_ROWS = """
94 f32x4.demote_f64x2_zero u
95 f64x2.promote_low_f32x4 u
96 i8x16.abs u
97 i8x16.neg u
98 i8x16.popcnt u
99 i8x16.all_true t
100 i8x16.bitmask t
101 i8x16.narrow_i16x8_s b
102 i8x16.narrow_i16x8_u b
103 f32x4.ceil u
104 f32x4.floor u
105 f32x4.trunc u
106 f32x4.nearest u
107 i8x16.shl s
108 i8x16.shr_s s
109 i8x16.shr_u s
110 i8x16.add b
111 i8x16.add_sat_s b
112 i8x16.add_sat_u b
113 i8x16.sub b
114 i8x16.sub_sat_s b
115 i8x16.sub_sat_u b
116 f64x2.ceil u
117 f64x2.floor u
118 i8x16.min_s b
119 i8x16.min_u b
120 i8x16.max_s b
121 i8x16.max_u b
122 f64x2.trunc u
123 i8x16.avgr_u b
124 i16x8.extadd_pairwise_i8x16_s u
125 i16x8.extadd_pairwise_i8x16_u u
126 i32x4.extadd_pairwise_i16x8_s u
127 i32x4.extadd_pairwise_i16x8_u u
128 i16x8.abs u
129 i16x8.neg u
130 i16x8.q15mulr_sat_s b
131 i16x8.all_true t
132 i16x8.bitmask t
133 i16x8.narrow_i32x4_s b
134 i16x8.narrow_i32x4_u b
135 i16x8.extend_low_i8x16_s u
136 i16x8.extend_high_i8x16_s u
137 i16x8.extend_low_i8x16_u u
138 i16x8.extend_high_i8x16_u u
139 i16x8.shl s
140 i16x8.shr_s s
141 i16x8.shr_u s
142 i16x8.add b
143 i16x8.add_sat_s b
144 i16x8.add_sat_u b
145 i16x8.sub b
146 i16x8.sub_sat_s b
147 i16x8.sub_sat_u b
148 f64x2.nearest u
149 i16x8.mul b
150 i16x8.min_s b
151 i16x8.min_u b
152 i16x8.max_s b
153 i16x8.max_u b
155 i16x8.avgr_u b
156 i16x8.extmul_low_i8x16_s b
157 i16x8.extmul_high_i8x16_s b
158 i16x8.extmul_low_i8x16_u b
159 i16x8.extmul_high_i8x16_u b
160 i32x4.abs u
161 i32x4.neg u
163 i32x4.all_true t
164 i32x4.bitmask t
167 i32x4.extend_low_i16x8_s u
168 i32x4.extend_high_i16x8_s u
169 i32x4.extend_low_i16x8_u u
170 i32x4.extend_high_i16x8_u u
171 i32x4.shl s
172 i32x4.shr_s s
173 i32x4.shr_u s
174 i32x4.add b
177 i32x4.sub b
181 i32x4.mul b
182 i32x4.min_s b
183 i32x4.min_u b
184 i32x4.max_s b
185 i32x4.max_u b
186 i32x4.dot_i16x8_s b
188 i32x4.extmul_low_i16x8_s b
189 i32x4.extmul_high_i16x8_s b
190 i32x4.extmul_low_i16x8_u b
191 i32x4.extmul_high_i16x8_u b
192 i64x2.abs u
193 i64x2.neg u
195 i64x2.all_true t
196 i64x2.bitmask t
199 i64x2.extend_low_i32x4_s u
200 i64x2.extend_high_i32x4_s u
201 i64x2.extend_low_i32x4_u u
202 i64x2.extend_high_i32x4_u u
203 i64x2.shl s
204 i64x2.shr_s s
205 i64x2.shr_u s
206 i64x2.add b
209 i64x2.sub b
213 i64x2.mul b
214 i64x2.eq b
215 i64x2.ne b
216 i64x2.lt_s b
217 i64x2.gt_s b
218 i64x2.le_s b
219 i64x2.ge_s b
220 i64x2.extmul_low_i32x4_s b
221 i64x2.extmul_high_i32x4_s b
222 i64x2.extmul_low_i32x4_u b
223 i64x2.extmul_high_i32x4_u b
224 f32x4.abs u
225 f32x4.neg u
227 f32x4.sqrt u
228 f32x4.add b
229 f32x4.sub b
230 f32x4.mul b
231 f32x4.div b
232 f32x4.min b
233 f32x4.max b
234 f32x4.pmin b
235 f32x4.pmax b
236 f64x2.abs u
237 f64x2.neg u
239 f64x2.sqrt u
240 f64x2.add b
241 f64x2.sub b
242 f64x2.mul b
243 f64x2.div b
244 f64x2.min b
245 f64x2.max b
246 f64x2.pmin b
247 f64x2.pmax b
248 i32x4.trunc_sat_f32x4_s u
249 i32x4.trunc_sat_f32x4_u u
250 f32x4.convert_i32x4_s u
251 f32x4.convert_i32x4_u u
252 i32x4.trunc_sat_f64x2_s_zero u
253 i32x4.trunc_sat_f64x2_u_zero u
254 f64x2.convert_low_i32x4_s u
255 f64x2.convert_low_i32x4_u u
256 i8x16.relaxed_swizzle b R
257 i32x4.relaxed_trunc_f32x4_s u R
258 i32x4.relaxed_trunc_f32x4_u u R
259 i32x4.relaxed_trunc_f64x2_s_zero u R
260 i32x4.relaxed_trunc_f64x2_u_zero u R
261 f32x4.relaxed_madd 3 R
262 f32x4.relaxed_nmadd 3 R
263 f64x2.relaxed_madd 3 R
264 f64x2.relaxed_nmadd 3 R
265 i8x16.relaxed_laneselect 3 R
266 i16x8.relaxed_laneselect 3 R
267 i32x4.relaxed_laneselect 3 R
268 i64x2.relaxed_laneselect 3 R
269 f32x4.relaxed_min b R
270 f32x4.relaxed_max b R
271 f64x2.relaxed_min b R
272 f64x2.relaxed_max b R
273 i16x8.relaxed_q15mulr_s b R
274 i16x8.relaxed_dot_i8x16_i7x16_s b R
275 i32x4.relaxed_dot_i8x16_i7x16_add_s 3 R
"""
_SIMD_SIGS = {"u": "v>v", "b": "vv>v", "t": "v>i", "s": "vi>v", "3": "vvv>v"}
for _line in _SIMD_ROWS.strip().splitlines():
    _f = _line.split()
    _op(0xFD, int(_f[0]), _f[1], NONE, _SIMD_SIGS[_f[2]],
        RELAXED_SIMD if len(_f) > 3 else SIMD, "simd")

# -- 0xFB: GC (recognised by name, never decoded further) ------------------------------------
for code, name in enumerate(
    "struct.new struct.new_default struct.get struct.get_s struct.get_u struct.set array.new "
    "array.new_default array.new_fixed array.new_data array.new_elem array.get array.get_s "
    "array.get_u array.set array.len array.fill array.copy array.init_data array.init_elem "
    "ref.test ref.test_null ref.cast ref.cast_null br_on_cast br_on_cast_fail any.convert_extern "
    "extern.convert_any ref.i31 i31.get_s i31.get_u".split()
):
    _op(0xFB, code, name, FOREIGN, None, GC, "gc")

# -- 0xFE: threads (recognised by name, never decoded further) -------------------------------
for code, name in ((0, "memory.atomic.notify"), (1, "memory.atomic.wait32"),
                   (2, "memory.atomic.wait64"), (3, "atomic.fence")):
    _op(0xFE, code, name, FOREIGN, None, THREADS, "atomic")
for i, name in enumerate(
    "i32.atomic.load i64.atomic.load i32.atomic.load8_u i32.atomic.load16_u i64.atomic.load8_u "
    "i64.atomic.load16_u i64.atomic.load32_u i32.atomic.store i64.atomic.store i32.atomic.store8 "
    "i32.atomic.store16 i64.atomic.store8 i64.atomic.store16 i64.atomic.store32".split()
):
    _op(0xFE, 0x10 + i, name, FOREIGN, None, THREADS, "atomic")
for g, rmw in enumerate("add sub and or xor xchg cmpxchg".split()):
    for i, form in enumerate(("i32.atomic.rmw.{}", "i64.atomic.rmw.{}", "i32.atomic.rmw8.{}_u",
                              "i32.atomic.rmw16.{}_u", "i64.atomic.rmw8.{}_u",
                              "i64.atomic.rmw16.{}_u", "i64.atomic.rmw32.{}_u")):
        _op(0xFE, 0x1E + 7 * g + i, form.format(rmw), FOREIGN, None, THREADS, "atomic")

# -- derived indexes -------------------------------------------------------------------------
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
#: single-byte opcodes by byte (None where the byte is not an opcode or is a prefix)
SINGLE: list[Op | None] = [None] * 256
#: prefixed opcodes: PREFIXED[prefix][code]
PREFIXED: dict[int, dict[int, Op]] = {0xFB: {}, 0xFC: {}, 0xFD: {}, 0xFE: {}}
for _o in OPS:
    if _o.prefix:
        PREFIXED[_o.prefix][_o.code] = _o
    else:
        SINGLE[_o.code] = _o
PREFIX_FEATURE = {0xFB: GC, 0xFC: BULK, 0xFD: SIMD, 0xFE: THREADS}

if len(BY_NAME) != len(OPS):  # pragma: no cover - table integrity
    raise RuntimeError("duplicate opcode name in the opcode table")


def lookup(prefix: int, code: int) -> Op | None:
    """The row for `(prefix, code)`, or None if it is not an operator of any known proposal."""
    if prefix == 0:
        return SINGLE[code] if 0 <= code < 256 else None
    return PREFIXED.get(prefix, {}).get(code)
