/* The native projection kernel: a chunk's JSON lines to the small dicts of the fields the rules read.
 *
 * One call scans a chunk (every line, or the prefilter's candidate spans). Per line it validates the
 * whole line as strict JSON and builds exactly the dict that projection.py's msgspec typed decode
 * gives for it: the wanted keys only, nested dicts for wanted objects, strings for wanted values,
 * None for null. Whenever it is not sure it would give the same answer as the Python path (the
 * Python path being orjson for validity and msgspec for the shape), it answers None for the line, and
 * the caller takes the Python path for it. "Unsure" is never wrong, only slower. It is unsure of:
 *
 *   - anything orjson might reject or repair: invalid UTF-8 (overlong forms, encoded surrogates,
 *     beyond U+10FFFF), control characters in strings, lone surrogate escapes, unknown escapes,
 *     malformed numbers, numbers that could leave the double range (more than 18 integer digits or
 *     more than 2 exponent digits), trailing bytes, a byte-order mark, a line not starting with `{`;
 *   - a wanted value that is not a string, null or a list of them (numbers, booleans, objects where a
 *     value is wanted), a wanted object that is not an object, null or a list of objects;
 *   - a wanted key given twice in one object, a key spelled with escapes in an object whose keys are
 *     matched, a dotted key that spells part of a wanted path (`"actor.alternateId"`);
 *   - nesting deeper than MAX_DEPTH.
 *
 * Every read is bounds-checked against the line's end. Strings are scanned 16 bytes at a time with
 * SSE2 where the compiler offers it, byte by byte elsewhere (and with -DPROJECTION_KERNEL_SCALAR, which
 * the sanitizer test builds too). Value strings up to CACHE_RAW bytes are
 * kept in a small cache keyed by their raw bytes, so a repeated value (an event type, a user, an
 * address) is one shared str object whose hash Python computes once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && !defined(PROJECTION_KERNEL_SCALAR)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_ENTRIES 64 /* per object of the shape: one bit each in the duplicate mask */
#define CACHE_SLOTS 4096
#define CACHE_RAW 192
#define CACHE_TRIAL 4096 /* lookups after which a key whose values rarely repeat stops using the cache */

enum { WANT_VALUE = 1, WANT_OBJECT = 2, DOTTED = 4 };
enum { OK = 0, UNSURE = 1, FAILED = 2 }; /* FAILED: a Python exception is set */

typedef struct Node Node;

typedef struct {
    char *key; /* UTF-8, as the key appears unescaped in a line */
    Py_ssize_t length;
    PyObject *name; /* the dict key, interned */
    int flags;
    Node *child; /* with WANT_OBJECT */
    long lookups, hits; /* of its values in the cache: unique values (ids, times) soon bypass it */
} Entry;

struct Node {
    Py_ssize_t count;
    Entry *entries;
};

typedef struct {
    uint64_t hash;
    Py_ssize_t length; /* -1: empty */
    PyObject *text;
    unsigned char raw[CACHE_RAW];
} CacheSlot;

typedef struct {
    PyObject_HEAD
    Node *root;
    CacheSlot *cache;
    unsigned char *scratch; /* unescaped bytes of one string */
    Py_ssize_t scratch_size;
    long long sure_lines;
    long long unsure_lines;
} Kernel;

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    Kernel *kernel;
} Cursor;

/* --- the shape ------------------------------------------------------------------------------- */

static void free_node(Node *node) {
    if (node == NULL)
        return;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        PyMem_Free(node->entries[i].key);
        Py_XDECREF(node->entries[i].name);
        free_node(node->entries[i].child);
    }
    PyMem_Free(node->entries);
    PyMem_Free(node);
}

/* spec: {key: (flags, child spec or None)} */
static Node *build_node(PyObject *spec, int depth) {
    if (!PyDict_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "a shape node must be a dict");
        return NULL;
    }
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "the shape is nested too deeply");
        return NULL;
    }
    Py_ssize_t count = PyDict_Size(spec);
    if (count > MAX_ENTRIES) {
        PyErr_Format(PyExc_ValueError, "a shape object has %zd keys, at most %d are supported", count,
                     MAX_ENTRIES);
        return NULL;
    }
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL)
        return (Node *)PyErr_NoMemory();
    node->entries = PyMem_Calloc(count ? count : 1, sizeof(Entry));
    if (node->entries == NULL) {
        PyMem_Free(node);
        return (Node *)PyErr_NoMemory();
    }
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(spec, &position, &key, &value)) {
        Entry *entry = &node->entries[node->count];
        int flags;
        PyObject *child_spec;
        if (!PyUnicode_Check(key) || !PyArg_ParseTuple(value, "iO;a shape entry is (flags, child)", &flags,
                                                       &child_spec)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "shape keys must be str");
            free_node(node);
            return NULL;
        }
        Py_ssize_t length;
        const char *utf8 = PyUnicode_AsUTF8AndSize(key, &length);
        if (utf8 == NULL) {
            free_node(node);
            return NULL;
        }
        entry->key = PyMem_Malloc(length ? length : 1);
        if (entry->key == NULL) {
            free_node(node);
            return (Node *)PyErr_NoMemory();
        }
        memcpy(entry->key, utf8, length);
        entry->length = length;
        Py_INCREF(key);
        PyUnicode_InternInPlace(&key);
        entry->name = key;
        entry->flags = flags;
        node->count++;
        if (flags & WANT_OBJECT) {
            entry->child = build_node(child_spec, depth + 1);
            if (entry->child == NULL) {
                free_node(node);
                return NULL;
            }
        }
    }
    return node;
}

/* --- the scanner ----------------------------------------------------------------------------- */

static inline void skip_space(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static inline int hex_value(unsigned char b) {
    if (b >= '0' && b <= '9')
        return b - '0';
    b |= 0x20;
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    return -1;
}

/* Four hex digits at p (bounds checked by the caller), or -1. */
static inline int hex4(const unsigned char *p) {
    int a = hex_value(p[0]), b = hex_value(p[1]), c = hex_value(p[2]), d = hex_value(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (a << 12) | (b << 8) | (c << 4) | d;
}

/* Length of the valid UTF-8 sequence at p (a byte >= 0x80), or 0 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static inline int utf8_sequence(const unsigned char *p, const unsigned char *end) {
    unsigned char b = p[0];
    Py_ssize_t left = end - p;
    if (b >= 0xC2 && b <= 0xDF)
        return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        if (left < 3 || (p[2] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        return (p[1] >= lo && p[1] <= hi) ? 3 : 0;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (left < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        return (p[1] >= lo && p[1] <= hi) ? 4 : 0;
    }
    return 0;
}

typedef struct {
    const unsigned char *start; /* the raw bytes between the quotes */
    Py_ssize_t length;
    int escaped;
    int ascii;
} Text;

/* A string at c->p (which is '"'): validated, cursor after the closing quote. */
static int scan_string(Cursor *c, Text *text) {
    const unsigned char *p = c->p + 1, *end = c->end;
    text->start = p;
    text->escaped = 0;
    text->ascii = 1;
    for (;;) {
#if defined(__SSE2__) && !defined(PROJECTION_KERNEL_SCALAR)
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                      space = _mm_set1_epi8(0x20);
/* the bytes that end the plain run: '"', '\\', and (signed compare: bytes >= 0x80 are negative) the
 * controls and every non-ASCII byte, which the byte loop validates */
#define SPECIAL(v) \
    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space))
        if (end - p >= 16) { /* most strings are short keys: look at 16 bytes before trying 64 */
            int mask = _mm_movemask_epi8(SPECIAL(_mm_loadu_si128((const __m128i *)p)));
            if (mask) {
                p += __builtin_ctz(mask);
                goto special;
            }
            p += 16;
        }
        while (end - p >= 64) { /* 64 plain bytes per step: most of a line's long texts */
            __m128i v0 = SPECIAL(_mm_loadu_si128((const __m128i *)p)),
                    v1 = SPECIAL(_mm_loadu_si128((const __m128i *)(p + 16))),
                    v2 = SPECIAL(_mm_loadu_si128((const __m128i *)(p + 32))),
                    v3 = SPECIAL(_mm_loadu_si128((const __m128i *)(p + 48)));
            if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3))))
                break;
            p += 64;
        }
        while (end - p >= 16) {
            int mask = _mm_movemask_epi8(SPECIAL(_mm_loadu_si128((const __m128i *)p)));
            if (mask) {
                p += __builtin_ctz(mask);
                break;
            }
            p += 16;
        }
#undef SPECIAL
    special:
#endif
        if (p >= end)
            return UNSURE;
        unsigned char b = *p;
        if (b == '"') {
            text->length = p - text->start;
            c->p = p + 1;
            return OK;
        }
        if (b == '\\') {
            text->escaped = 1;
            if (end - p < 2)
                return UNSURE;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u': {
                if (end - p < 6)
                    return UNSURE;
                int unit = hex4(p + 2);
                if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
                    return UNSURE; /* not hex, or a lone low surrogate */
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
                        return UNSURE;
                    int low = hex4(p + 8);
                    if (low < 0xDC00 || low > 0xDFFF)
                        return UNSURE;
                    text->ascii = 0;
                    p += 12;
                } else {
                    if (unit >= 0x80)
                        text->ascii = 0;
                    p += 6;
                }
                continue;
            }
            default:
                return UNSURE;
            }
        }
        if (b < 0x20)
            return UNSURE;
        if (b >= 0x80) {
            int length = utf8_sequence(p, end);
            if (length == 0)
                return UNSURE;
            text->ascii = 0;
            p += length;
            continue;
        }
        p++;
    }
}

static int scan_number(Cursor *c) {
    const unsigned char *p = c->p, *end = c->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return UNSURE;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        const unsigned char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p - digits > 18)
            return UNSURE; /* orjson refuses integers past 64 bits */
    } else {
        return UNSURE;
    }
    if (p < end && *p == '.') {
        p++;
        const unsigned char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return UNSURE;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const unsigned char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits || p - digits > 2)
            return UNSURE; /* 1e999 is beyond the double range */
    }
    c->p = p;
    return OK;
}

static inline int scan_literal(Cursor *c, const char *word, Py_ssize_t length) {
    if (c->end - c->p < length || memcmp(c->p, word, length) != 0)
        return UNSURE;
    c->p += length;
    return OK;
}

static int skip_value(Cursor *c, int depth);

/* An object or array at c->p, validated and skipped. */
static int skip_container(Cursor *c, int depth) {
    unsigned char close = *c->p == '{' ? '}' : ']';
    int object = close == '}';
    if (depth > MAX_DEPTH)
        return UNSURE;
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return OK;
    }
    for (;;) {
        int status;
        if (object) {
            Text key;
            if (c->p >= c->end || *c->p != '"' || (status = scan_string(c, &key)) != OK)
                return UNSURE;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':')
                return UNSURE;
            c->p++;
            skip_space(c);
        }
        if ((status = skip_value(c, depth + 1)) != OK)
            return status;
        skip_space(c);
        if (c->p >= c->end)
            return UNSURE;
        if (*c->p == ',') {
            c->p++;
            skip_space(c);
            continue;
        }
        if (*c->p == close) {
            c->p++;
            return OK;
        }
        return UNSURE;
    }
}

static int skip_value(Cursor *c, int depth) {
    if (c->p >= c->end)
        return UNSURE;
    Text text;
    switch (*c->p) {
    case '"':
        return scan_string(c, &text);
    case '{':
    case '[':
        return skip_container(c, depth);
    case 't':
        return scan_literal(c, "true", 4);
    case 'f':
        return scan_literal(c, "false", 5);
    case 'n':
        return scan_literal(c, "null", 4);
    default:
        return scan_number(c);
    }
}

/* --- values ---------------------------------------------------------------------------------- */

static inline uint64_t hash_bytes(const unsigned char *p, Py_ssize_t length) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)length;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        h = (h ^ word) * 0x100000001B3ull;
        h ^= h >> 29;
        p += 8;
        length -= 8;
    }
    while (length-- > 0)
        h = (h ^ *p++) * 0x100000001B3ull;
    return h ^ (h >> 32);
}

/* The unescaped UTF-8 bytes of an escaped string (validated by scan_string) into the scratch buffer. */
static Py_ssize_t unescape(Kernel *kernel, const Text *text) {
    if (kernel->scratch_size < text->length) {
        unsigned char *grown = PyMem_Realloc(kernel->scratch, text->length);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        kernel->scratch = grown;
        kernel->scratch_size = text->length;
    }
    const unsigned char *p = text->start, *end = text->start + text->length;
    unsigned char *out = kernel->scratch;
    while (p < end) {
        if (*p != '\\') {
            *out++ = *p++;
            continue;
        }
        unsigned char kind = p[1];
        if (kind != 'u') {
            static const unsigned char plain[128] = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
                                                     ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'};
            *out++ = plain[kind & 0x7F];
            p += 2;
            continue;
        }
        uint32_t code = (uint32_t)hex4(p + 2);
        p += 6;
        if (code >= 0xD800 && code <= 0xDBFF) { /* scan_string checked that the low half follows */
            code = 0x10000 + ((code - 0xD800) << 10) + ((uint32_t)hex4(p + 2) - 0xDC00);
            p += 6;
        }
        if (code < 0x80) {
            *out++ = (unsigned char)code;
        } else if (code < 0x800) {
            *out++ = 0xC0 | (code >> 6);
            *out++ = 0x80 | (code & 0x3F);
        } else if (code < 0x10000) {
            *out++ = 0xE0 | (code >> 12);
            *out++ = 0x80 | ((code >> 6) & 0x3F);
            *out++ = 0x80 | (code & 0x3F);
        } else {
            *out++ = 0xF0 | (code >> 18);
            *out++ = 0x80 | ((code >> 12) & 0x3F);
            *out++ = 0x80 | ((code >> 6) & 0x3F);
            *out++ = 0x80 | (code & 0x3F);
        }
    }
    return out - kernel->scratch;
}

static PyObject *make_text(Kernel *kernel, const Text *text) {
    if (!text->escaped && text->ascii) {
        PyObject *result = PyUnicode_New(text->length, 127);
        if (result != NULL)
            memcpy(PyUnicode_DATA(result), text->start, text->length);
        return result;
    }
    if (!text->escaped)
        return PyUnicode_DecodeUTF8((const char *)text->start, text->length, "strict");
    Py_ssize_t length = unescape(kernel, text);
    if (length < 0)
        return NULL;
    return PyUnicode_DecodeUTF8((const char *)kernel->scratch, length, "strict");
}

/* A new reference to the str of a validated string of entry's, shared through the cache when short
 * and when the entry's values repeat. */
static PyObject *value_text(Kernel *kernel, Entry *entry, const Text *text) {
    if (text->length > CACHE_RAW || (entry->lookups >= CACHE_TRIAL && entry->hits < entry->lookups / 8))
        return make_text(kernel, text);
    entry->lookups += entry->lookups < CACHE_TRIAL;
    uint64_t hash = hash_bytes(text->start, text->length);
    CacheSlot *slot = &kernel->cache[hash & (CACHE_SLOTS - 1)];
    if (slot->length == text->length && slot->hash == hash && memcmp(slot->raw, text->start, text->length) == 0) {
        entry->hits += entry->lookups < CACHE_TRIAL;
        Py_INCREF(slot->text);
        return slot->text;
    }
    PyObject *result = make_text(kernel, text);
    if (result == NULL)
        return NULL;
    Py_XSETREF(slot->text, Py_NewRef(result));
    slot->hash = hash;
    slot->length = text->length;
    memcpy(slot->raw, text->start, text->length);
    return result;
}

/* --- the projection -------------------------------------------------------------------------- */

static inline Entry *find_entry(const Node *node, const Text *key) {
    for (Py_ssize_t i = 0; i < node->count; i++) {
        Entry *entry = &node->entries[i];
        if (entry->length == key->length && memcmp(entry->key, key->start, key->length) == 0)
            return entry;
    }
    return NULL;
}

static int project_object(Cursor *c, const Node *node, int depth, PyObject **out);

/* A dict of strings, None and such dicts cannot be part of a reference cycle: it leaves the cyclic
 * GC's lists, as CPython's own collector would untrack it (and as CPython tracks it again when a
 * container is stored in it later). A chunk's thousands of events would otherwise be traversed by
 * every collection while the chunk's list of results grows. */
static inline PyObject *untrack(PyObject *dict, int atomic) {
    if (atomic && PyObject_GC_IsTracked(dict))
        PyObject_GC_UnTrack(dict);
    return dict;
}

/* The array at c->p (which is '[') on a wanted key, into *out (a new list), as msgspec's shape takes
 * it: a list of strings or nulls for a wanted value, a list of objects (Okta's `target`) for a wanted
 * object. Any other element: unsure. */
static int project_array(Cursor *c, Entry *entry, int depth, PyObject **out) {
    if (depth > MAX_DEPTH)
        return UNSURE;
    PyObject *result = PyList_New(0);
    if (result == NULL)
        return FAILED;
    int status = UNSURE;
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        *out = result;
        return OK;
    }
    for (;;) {
        PyObject *item = NULL;
        if (c->p >= c->end)
            goto unsure;
        if (entry->flags == WANT_OBJECT && *c->p == '{') {
            if ((status = project_object(c, entry->child, depth + 1, &item)) != OK)
                goto done;
        } else if (entry->flags == WANT_VALUE && *c->p == '"') {
            Text text;
            if (scan_string(c, &text) != OK)
                goto unsure;
            if ((item = value_text(c->kernel, entry, &text)) == NULL)
                goto failed;
        } else if (entry->flags == WANT_VALUE && *c->p == 'n') {
            if (scan_literal(c, "null", 4) != OK)
                goto unsure;
            item = Py_NewRef(Py_None);
        } else {
            goto unsure;
        }
        int failed = PyList_Append(result, item) < 0;
        Py_DECREF(item);
        if (failed)
            goto failed;
        skip_space(c);
        if (c->p >= c->end)
            goto unsure;
        if (*c->p == ',') {
            c->p++;
            skip_space(c);
            continue;
        }
        if (*c->p == ']') {
            c->p++;
            *out = result;
            return OK;
        }
        goto unsure;
    }
unsure:
    status = UNSURE;
    goto done;
failed:
    status = FAILED;
done:
    Py_DECREF(result);
    return status;
}

/* The object at c->p (which is '{') projected on node into *out (a new dict). */
static int project_object(Cursor *c, const Node *node, int depth, PyObject **out) {
    if (depth > MAX_DEPTH)
        return UNSURE;
    PyObject *result = PyDict_New();
    if (result == NULL)
        return FAILED;
    uint64_t seen = 0;
    int status = UNSURE;
    int atomic = 1; /* only str, None and untracked dicts inside (see untrack) */
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        *out = untrack(result, atomic);
        return OK;
    }
    for (;;) {
        Text key;
        if (c->p >= c->end || *c->p != '"' || scan_string(c, &key) != OK)
            goto unsure;
        skip_space(c);
        if (c->p >= c->end || *c->p != ':')
            goto unsure;
        c->p++;
        skip_space(c);
        if (c->p >= c->end)
            goto unsure;
        if (key.escaped)
            goto unsure; /* it may spell a wanted key */
        Entry *entry = find_entry(node, &key);
        if (entry == NULL) {
            if ((status = skip_value(c, depth + 1)) != OK)
                goto done;
        } else {
            uint64_t bit = 1ull << (entry - node->entries);
            if ((seen & bit) || (entry->flags & DOTTED))
                goto unsure;
            seen |= bit;
            PyObject *value = NULL;
            unsigned char first = *c->p;
            if (first == 'n') {
                if (scan_literal(c, "null", 4) != OK)
                    goto unsure;
                value = Py_NewRef(Py_None);
            } else if (first == '"' && (entry->flags & WANT_VALUE)) {
                Text text;
                if (scan_string(c, &text) != OK)
                    goto unsure;
                if ((value = value_text(c->kernel, entry, &text)) == NULL)
                    goto failed;
            } else if (first == '{' && entry->flags == WANT_OBJECT) {
                if ((status = project_object(c, entry->child, depth + 1, &value)) != OK)
                    goto done;
                atomic &= !PyObject_GC_IsTracked(value);
            } else if (first == '[') {
                if ((status = project_array(c, entry, depth + 1, &value)) != OK)
                    goto done;
                atomic = 0;
            } else {
                goto unsure; /* a number, boolean, array, or a value that does not fit the shape */
            }
            int failed = PyDict_SetItem(result, entry->name, value) < 0;
            Py_DECREF(value);
            if (failed)
                goto failed;
        }
        skip_space(c);
        if (c->p >= c->end)
            goto unsure;
        if (*c->p == ',') {
            c->p++;
            skip_space(c);
            continue;
        }
        if (*c->p == '}') {
            c->p++;
            *out = untrack(result, atomic);
            return OK;
        }
        goto unsure;
    }
unsure:
    status = UNSURE;
    goto done;
failed:
    status = FAILED;
done:
    Py_DECREF(result);
    return status;
}

/* One line: a new reference to its dict, or None when unsure; NULL with an exception set. */
static PyObject *project_line(Kernel *kernel, const unsigned char *start, const unsigned char *end) {
    Cursor cursor = {start, end, kernel};
    PyObject *event = NULL;
    skip_space(&cursor);
    if (cursor.p < cursor.end && *cursor.p == '{') {
        int status = project_object(&cursor, kernel->root, 1, &event);
        if (status == FAILED)
            return NULL;
        if (status == OK) {
            skip_space(&cursor);
            if (cursor.p == cursor.end) {
                kernel->sure_lines++;
                return event;
            }
            Py_DECREF(event);
        }
    }
    kernel->unsure_lines++;
    Py_RETURN_NONE;
}

/* --- the type -------------------------------------------------------------------------------- */

/* The iterator scan() returns: one line projected per step, so that each event is used (and freed)
 * while its memory is still in the cache, rather than a chunk's thousands of events built first. */
typedef struct {
    PyObject_HEAD
    Kernel *kernel;
    Py_buffer buffer;
    PyObject *spans;     /* an iterator of (start, end), or NULL: every line */
    Py_ssize_t position; /* every line: where the next one starts */
} Lines;

static PyTypeObject LinesType;

static PyObject *Lines_next(Lines *self) {
    const unsigned char *data = self->buffer.buf;
    Py_ssize_t size = self->buffer.len, start, end;
    if (self->spans == NULL) {
        start = self->position;
        if (start >= size)
            return NULL;
        const unsigned char *newline = memchr(data + start, '\n', size - start);
        end = newline ? newline - data : size;
        self->position = end + 1;
    } else {
        PyObject *span = PyIter_Next(self->spans);
        if (span == NULL)
            return NULL; /* the end, or the iterator's exception */
        int parsed = PyArg_ParseTuple(span, "nn;a span is (start, end)", &start, &end);
        Py_DECREF(span);
        if (!parsed)
            return NULL;
        if (start < 0 || end < start || end > size) {
            PyErr_Format(PyExc_ValueError, "span (%zd, %zd) is outside the %zd bytes", start, end, size);
            return NULL;
        }
    }
    PyObject *event = project_line(self->kernel, data + start, data + end);
    if (event == NULL)
        return NULL;
    PyObject *row = Py_BuildValue("(nnN)", start, end, event);
    if (row != NULL && !PyObject_GC_IsTracked(event) && PyObject_GC_IsTracked(row))
        PyObject_GC_UnTrack(row); /* ints and an untracked dict (or None): no cycle through it */
    return row;
}

static void Lines_dealloc(Lines *self) {
    if (self->buffer.obj != NULL)
        PyBuffer_Release(&self->buffer);
    Py_XDECREF(self->spans);
    Py_XDECREF(self->kernel);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject LinesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma.backends.okta.engine._projection_kernel.Lines",
    .tp_basicsize = sizeof(Lines),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The lines of one scan() call, projected one per step.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Lines_next,
    .tp_dealloc = (destructor)Lines_dealloc,
};

PyDoc_STRVAR(scan_doc,
             "scan(data, spans=None) -> iterator of (start, end, event or None)\n\n"
             "Project every line of data (spans None: lines end at b'\\n', the last one may not) or the\n"
             "given (start, end) spans, end excluding the newline. event is the projected dict, or None\n"
             "when the kernel is not sure of the line (then decode it the Python way).");

static PyObject *Kernel_scan(Kernel *self, PyObject *args) {
    PyObject *data, *spans = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:scan", &data, &spans))
        return NULL;
    if (self->root == NULL || self->cache == NULL)
        return PyErr_Format(PyExc_ValueError, "the kernel was not initialised with a shape");
    Lines *lines = PyObject_New(Lines, &LinesType);
    if (lines == NULL)
        return NULL;
    lines->kernel = (Kernel *)Py_NewRef(self);
    lines->spans = NULL;
    lines->position = 0;
    lines->buffer.obj = NULL;
    if (PyObject_GetBuffer(data, &lines->buffer, PyBUF_SIMPLE) < 0) {
        lines->buffer.obj = NULL;
        Py_DECREF(lines);
        return NULL;
    }
    if (spans != Py_None && (lines->spans = PyObject_GetIter(spans)) == NULL) {
        Py_DECREF(lines);
        return NULL;
    }
    return (PyObject *)lines;
}

static PyObject *Kernel_stats(Kernel *self, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("{sLsL}", "sure_lines", self->sure_lines, "unsure_lines", self->unsure_lines);
}

static int Kernel_init(Kernel *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"shape", NULL};
    PyObject *shape;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:Kernel", keywords, &PyDict_Type, &shape))
        return -1;
    Node *root = build_node(shape, 1);
    if (root == NULL)
        return -1;
    free_node(self->root);
    self->root = root;
    if (self->cache == NULL) {
        self->cache = PyMem_Calloc(CACHE_SLOTS, sizeof(CacheSlot));
        if (self->cache == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (int i = 0; i < CACHE_SLOTS; i++)
            self->cache[i].length = -1;
    }
    return 0;
}

static void Kernel_dealloc(Kernel *self) {
    free_node(self->root);
    if (self->cache != NULL) {
        for (int i = 0; i < CACHE_SLOTS; i++)
            Py_XDECREF(self->cache[i].text);
        PyMem_Free(self->cache);
    }
    PyMem_Free(self->scratch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* --- event time ------------------------------------------------------------------------------ */

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* Epoch microseconds of Okta's own form, YYYY-MM-DDTHH:MM:SS.mmmZ, or -1 for anything else (which
 * timestamps.py then reads, with every other form it accepts and its verdicts). */
static int64_t okta_time(const unsigned char *t, Py_ssize_t length) {
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (length != 24)
        return -1;
    for (int i = 0; i < 24; i++) {
        if (form[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != (unsigned char)form[i])
            return -1;
    }
#define DIGITS2(i) ((t[i] - '0') * 10 + (t[(i) + 1] - '0'))
    int64_t year = DIGITS2(0) * 100 + DIGITS2(2), month = DIGITS2(5), day = DIGITS2(8);
    int64_t hour = DIGITS2(11), minute = DIGITS2(14), second = DIGITS2(17);
    int64_t millis = DIGITS2(20) * 10 + (t[22] - '0');
#undef DIGITS2
    static const int month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > month_days[month] || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return -1;
    int64_t seconds = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second;
    return seconds * 1000000 + millis * 1000;
}

/* A callable getter: event -> epoch microseconds of event[key] in Okta's form, else fallback(event). */
typedef struct {
    PyObject_HEAD
    PyObject *key;
    PyObject *fallback;
} TimeGetter;

static PyObject *TimeGetter_call(TimeGetter *self, PyObject *args, PyObject *kwargs) {
    PyObject *event;
    if (kwargs != NULL || !PyArg_UnpackTuple(args, "time", 1, 1, &event))
        return PyErr_Format(PyExc_TypeError, "a time getter takes one event");
    if (self->key == NULL || self->fallback == NULL)
        return PyErr_Format(PyExc_ValueError, "the time getter was not initialised");
    if (PyDict_CheckExact(event)) {
        PyObject *value = PyDict_GetItemWithError(event, self->key); /* borrowed */
        if (value == NULL && PyErr_Occurred())
            return NULL;
        if (value != NULL && PyUnicode_CheckExact(value) && PyUnicode_IS_COMPACT_ASCII(value)) {
            int64_t micros = okta_time((const unsigned char *)PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value));
            if (micros != -1) /* a real time is a whole number of milliseconds: never -1 */
                return PyLong_FromLongLong(micros);
        }
    }
    return PyObject_CallOneArg(self->fallback, event);
}

static int TimeGetter_init(TimeGetter *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"key", "fallback", NULL};
    PyObject *key, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO:TimeGetter", keywords, &key, &fallback))
        return -1;
    Py_XSETREF(self->key, Py_NewRef(key));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    return 0;
}

static void TimeGetter_dealloc(TimeGetter *self) {
    Py_XDECREF(self->key);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject TimeGetterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma.backends.okta.engine._projection_kernel.TimeGetter",
    .tp_basicsize = sizeof(TimeGetter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TimeGetter(key, fallback): event -> epoch microseconds of event[key] in Okta's form\n"
              "(YYYY-MM-DDTHH:MM:SS.mmmZ), else fallback(event).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)TimeGetter_init,
    .tp_call = (ternaryfunc)TimeGetter_call,
    .tp_dealloc = (destructor)TimeGetter_dealloc,
};

static PyObject *parse_okta_time(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_Check(text))
        return PyErr_Format(PyExc_TypeError, "okta_time takes a str");
    if (!PyUnicode_IS_COMPACT_ASCII(text))
        Py_RETURN_NONE;
    int64_t micros = okta_time((const unsigned char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text));
    if (micros == -1)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(micros);
}

static PyMethodDef module_functions[] = {
    {"okta_time", parse_okta_time, METH_O,
     "okta_time(text) -> epoch microseconds of YYYY-MM-DDTHH:MM:SS.mmmZ, or None for any other text."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Kernel_methods[] = {
    {"scan", (PyCFunction)Kernel_scan, METH_VARARGS, scan_doc},
    {"stats", (PyCFunction)Kernel_stats, METH_NOARGS, "Lines projected and lines handed back, so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma.backends.okta.engine._projection_kernel.Kernel",
    .tp_basicsize = sizeof(Kernel),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Kernel(shape): the projection of one rule pack; shape is {key: (flags, child shape or None)}.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Kernel_init,
    .tp_dealloc = (destructor)Kernel_dealloc,
    .tp_methods = Kernel_methods,
};

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_projection_kernel",
    .m_doc = "The native projection kernel (see backends/engine/native_projection.py).",
    .m_size = -1,
    .m_methods = module_functions,
};

int add_rule_predicates(PyObject *module); /* rule_predicates.c */

PyMODINIT_FUNC PyInit__projection_kernel(void) {
    if (PyType_Ready(&KernelType) < 0 || PyType_Ready(&LinesType) < 0 || PyType_Ready(&TimeGetterType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&kernel_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "WANT_VALUE", WANT_VALUE) < 0 ||
        PyModule_AddIntConstant(module, "WANT_OBJECT", WANT_OBJECT) < 0 ||
        PyModule_AddIntConstant(module, "DOTTED", DOTTED) < 0 ||
        PyModule_AddIntConstant(module, "MAX_DEPTH", MAX_DEPTH) < 0 ||
        PyModule_AddObjectRef(module, "Kernel", (PyObject *)&KernelType) < 0 ||
        PyModule_AddObjectRef(module, "TimeGetter", (PyObject *)&TimeGetterType) < 0 ||
        add_rule_predicates(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
