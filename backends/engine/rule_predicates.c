/* Base rules made of caseless literal tests, evaluated in C (part of the _projection_kernel module).
 *
 * native_rules.py compiles a rule into a program when every detection item of its condition is a
 * field compared with caseless ASCII literals (equal, prefix, suffix, contains; `|all` and negation
 * included): nested tuples ("and", children), ("or", children), ("not", child) and
 * ("item", segments, dotted spellings, equals, prefixes, suffixes, infixes). RulePredicate(program,
 * fallback) is called like matcher.py's predicate, with the same answer, and calls the fallback (that
 * very Python predicate) for every event it is not sure of. Logic is three-valued (Kleene): an item is
 * "unknown" when its value is not an ASCII str, None, an object or missing (lists, numbers, booleans,
 * non-ASCII text, whose lowering or matching matcher.py defines), or when the field is found only
 * through a dotted key or a list; AND with a false part is false and OR with a true part is true
 * whatever the unknown parts would give, and an unknown result calls the fallback.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { R_AND, R_OR, R_NOT, R_ITEM };
enum { R_FALSE = 0, R_TRUE = 1, R_UNKNOWN = 2, R_ERROR = -1 };
enum { T_EQUAL, T_PREFIX, T_SUFFIX, T_INFIX, T_KINDS };

typedef struct {
    Py_ssize_t count;
    char **texts; /* lowered ASCII */
    Py_ssize_t *lengths;
} Literals;

typedef struct RuleNode {
    int kind;
    Py_ssize_t count;
    struct RuleNode **children;
    /* R_ITEM */
    Py_ssize_t depth;
    PyObject **segments; /* interned str */
    Py_ssize_t spelling_count;
    Py_ssize_t *spelling_lengths;
    PyObject ***spellings;
    Literals tests[T_KINDS];
} RuleNode;

static void free_rule(RuleNode *node) {
    if (node == NULL)
        return;
    for (Py_ssize_t i = 0; i < node->count; i++)
        free_rule(node->children[i]);
    PyMem_Free(node->children);
    for (Py_ssize_t i = 0; i < node->depth; i++)
        Py_XDECREF(node->segments[i]);
    PyMem_Free(node->segments);
    for (Py_ssize_t i = 0; i < node->spelling_count; i++) {
        for (Py_ssize_t j = 0; j < node->spelling_lengths[i]; j++)
            Py_XDECREF(node->spellings[i][j]);
        PyMem_Free(node->spellings[i]);
    }
    PyMem_Free(node->spellings);
    PyMem_Free(node->spelling_lengths);
    for (int kind = 0; kind < T_KINDS; kind++) {
        for (Py_ssize_t i = 0; i < node->tests[kind].count; i++)
            PyMem_Free(node->tests[kind].texts[i]);
        PyMem_Free(node->tests[kind].texts);
        PyMem_Free(node->tests[kind].lengths);
    }
    PyMem_Free(node);
}

/* A tuple of str into an array of interned references. */
static PyObject **interned_keys(PyObject *keys, Py_ssize_t *count) {
    if (!PyTuple_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "a path is a tuple of str");
        return NULL;
    }
    *count = PyTuple_GET_SIZE(keys);
    PyObject **result = PyMem_Calloc(*count ? *count : 1, sizeof(PyObject *));
    if (result == NULL)
        return (PyObject **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyUnicode_CheckExact(key)) {
            for (Py_ssize_t j = 0; j < i; j++)
                Py_DECREF(result[j]);
            PyMem_Free(result);
            PyErr_SetString(PyExc_TypeError, "a path is a tuple of str");
            return NULL;
        }
        Py_INCREF(key);
        PyUnicode_InternInPlace(&key);
        result[i] = key;
    }
    return result;
}

static int read_literals(PyObject *texts, Literals *literals) {
    if (!PyTuple_Check(texts)) {
        PyErr_SetString(PyExc_TypeError, "literals are a tuple of bytes");
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(texts);
    literals->texts = PyMem_Calloc(count ? count : 1, sizeof(char *));
    literals->lengths = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
    if (literals->texts == NULL || literals->lengths == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PyTuple_GET_ITEM(texts, i);
        if (!PyBytes_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "literals are a tuple of bytes");
            return -1;
        }
        Py_ssize_t length = PyBytes_GET_SIZE(text);
        const char *data = PyBytes_AS_STRING(text);
        for (Py_ssize_t j = 0; j < length; j++) {
            if ((unsigned char)data[j] >= 0x80 || (data[j] >= 'A' && data[j] <= 'Z')) {
                PyErr_SetString(PyExc_ValueError, "literals must be lowered ASCII");
                return -1;
            }
        }
        literals->texts[i] = PyMem_Malloc(length ? length : 1);
        if (literals->texts[i] == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(literals->texts[i], data, length);
        literals->lengths[i] = length;
        literals->count++;
    }
    return 0;
}

static RuleNode *build_rule(PyObject *program, int depth) {
    if (depth > 200) {
        PyErr_SetString(PyExc_ValueError, "the rule program is nested too deeply");
        return NULL;
    }
    if (!PyTuple_Check(program) || PyTuple_GET_SIZE(program) < 2 || !PyUnicode_Check(PyTuple_GET_ITEM(program, 0))) {
        PyErr_SetString(PyExc_TypeError, "a rule program node is a tuple (kind, ...)");
        return NULL;
    }
    RuleNode *node = PyMem_Calloc(1, sizeof(RuleNode));
    if (node == NULL)
        return (RuleNode *)PyErr_NoMemory();
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(program, 0));
    if (kind == NULL)
        goto failed;
    if (strcmp(kind, "and") == 0 || strcmp(kind, "or") == 0) {
        node->kind = kind[0] == 'a' ? R_AND : R_OR;
        PyObject *children = PyTuple_GET_ITEM(program, 1);
        if (!PyTuple_Check(children)) {
            PyErr_SetString(PyExc_TypeError, "and/or take a tuple of nodes");
            goto failed;
        }
        Py_ssize_t count = PyTuple_GET_SIZE(children);
        node->children = PyMem_Calloc(count ? count : 1, sizeof(RuleNode *));
        if (node->children == NULL) {
            PyErr_NoMemory();
            goto failed;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            if ((node->children[i] = build_rule(PyTuple_GET_ITEM(children, i), depth + 1)) == NULL)
                goto failed;
            node->count++;
        }
    } else if (strcmp(kind, "not") == 0) {
        node->kind = R_NOT;
        node->children = PyMem_Calloc(1, sizeof(RuleNode *));
        if (node->children == NULL) {
            PyErr_NoMemory();
            goto failed;
        }
        if ((node->children[0] = build_rule(PyTuple_GET_ITEM(program, 1), depth + 1)) == NULL)
            goto failed;
        node->count = 1;
    } else if (strcmp(kind, "item") == 0 && PyTuple_GET_SIZE(program) == 3 + T_KINDS) {
        node->kind = R_ITEM;
        if ((node->segments = interned_keys(PyTuple_GET_ITEM(program, 1), &node->depth)) == NULL)
            goto failed;
        if (node->depth < 1) {
            PyErr_SetString(PyExc_ValueError, "an item needs a field");
            goto failed;
        }
        PyObject *spellings = PyTuple_GET_ITEM(program, 2);
        if (!PyTuple_Check(spellings)) {
            PyErr_SetString(PyExc_TypeError, "spellings are a tuple of paths");
            goto failed;
        }
        Py_ssize_t count = PyTuple_GET_SIZE(spellings);
        node->spellings = PyMem_Calloc(count ? count : 1, sizeof(PyObject **));
        node->spelling_lengths = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
        if (node->spellings == NULL || node->spelling_lengths == NULL) {
            PyErr_NoMemory();
            goto failed;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            node->spellings[i] = interned_keys(PyTuple_GET_ITEM(spellings, i), &node->spelling_lengths[i]);
            if (node->spellings[i] == NULL)
                goto failed;
            node->spelling_count++;
        }
        for (int test = 0; test < T_KINDS; test++)
            if (read_literals(PyTuple_GET_ITEM(program, 3 + test), &node->tests[test]) < 0)
                goto failed;
    } else {
        PyErr_Format(PyExc_ValueError, "unknown rule program node %R", program);
        goto failed;
    }
    return node;
failed:
    free_rule(node);
    return NULL;
}

/* --- evaluation ------------------------------------------------------------------------------ */

enum { FOUND, ABSENT, UNSURE_PATH, LOOKUP_ERROR };

/* matcher.py's fields.compile_field, where it is plain: nested objects all the way down. A field not
 * found so is absent unless a dotted spelling or a list could give it a value (then: unsure). */
static int look_up(const RuleNode *item, PyObject *event, PyObject **value) {
    PyObject *current = event;
    for (Py_ssize_t i = 0; i < item->depth; i++) {
        if (!PyDict_CheckExact(current)) {
            if (PyList_CheckExact(current))
                return UNSURE_PATH;
            goto spellings;
        }
        current = PyDict_GetItemWithError(current, item->segments[i]);
        if (current == NULL) {
            if (PyErr_Occurred())
                return LOOKUP_ERROR;
            goto spellings;
        }
    }
    *value = current;
    return FOUND;
spellings:
    for (Py_ssize_t s = 0; s < item->spelling_count; s++) {
        PyObject *found = event;
        Py_ssize_t j = 0;
        for (; j < item->spelling_lengths[s]; j++) {
            if (!PyDict_CheckExact(found)) {
                if (PyList_CheckExact(found))
                    return UNSURE_PATH;
                break;
            }
            found = PyDict_GetItemWithError(found, item->spellings[s][j]);
            if (found == NULL) {
                if (PyErr_Occurred())
                    return LOOKUP_ERROR;
                break;
            }
        }
        if (j == item->spelling_lengths[s])
            return UNSURE_PATH; /* present through a dotted key: matcher.py decides */
    }
    return ABSENT;
}

static int contains(const char *text, Py_ssize_t length, const char *part, Py_ssize_t part_length) {
    if (part_length == 0)
        return 1;
    const char *end = text + length - part_length;
    for (const char *p = text; p <= end; p++) {
        p = memchr(p, part[0], end - p + 1);
        if (p == NULL)
            return 0;
        if (memcmp(p, part, part_length) == 0)
            return 1;
    }
    return 0;
}

static int test_text(const RuleNode *item, const char *lowered, Py_ssize_t length) {
    const Literals *equal = &item->tests[T_EQUAL], *prefix = &item->tests[T_PREFIX],
                   *suffix = &item->tests[T_SUFFIX], *infix = &item->tests[T_INFIX];
    for (Py_ssize_t i = 0; i < equal->count; i++)
        if (equal->lengths[i] == length && memcmp(equal->texts[i], lowered, length) == 0)
            return R_TRUE;
    for (Py_ssize_t i = 0; i < prefix->count; i++)
        if (prefix->lengths[i] <= length && memcmp(prefix->texts[i], lowered, prefix->lengths[i]) == 0)
            return R_TRUE;
    for (Py_ssize_t i = 0; i < suffix->count; i++)
        if (suffix->lengths[i] <= length &&
            memcmp(suffix->texts[i], lowered + length - suffix->lengths[i], suffix->lengths[i]) == 0)
            return R_TRUE;
    for (Py_ssize_t i = 0; i < infix->count; i++)
        if (contains(lowered, length, infix->texts[i], infix->lengths[i]))
            return R_TRUE;
    return R_FALSE;
}

static int evaluate_item(const RuleNode *item, PyObject *event) {
    PyObject *value = NULL;
    switch (look_up(item, event, &value)) {
    case LOOKUP_ERROR:
        return R_ERROR;
    case UNSURE_PATH:
        return R_UNKNOWN;
    case ABSENT:
        return R_FALSE; /* a string test never matches a missing field */
    default:
        break;
    }
    if (value == Py_None || PyDict_CheckExact(value))
        return R_FALSE; /* null and objects never match a string (matcher.py's _scalar_test) */
    if (!PyUnicode_CheckExact(value) || !PyUnicode_IS_COMPACT_ASCII(value))
        return R_UNKNOWN; /* lists, numbers, booleans through their text; non-ASCII lowering */
    Py_ssize_t length = PyUnicode_GET_LENGTH(value);
    const char *text = (const char *)PyUnicode_DATA(value);
    char small[512];
    char *lowered = length <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc(length);
    if (lowered == NULL) {
        PyErr_NoMemory();
        return R_ERROR;
    }
    for (Py_ssize_t i = 0; i < length; i++)
        lowered[i] = (text[i] >= 'A' && text[i] <= 'Z') ? (char)(text[i] + 32) : text[i];
    int result = test_text(item, lowered, length);
    if (lowered != small)
        PyMem_Free(lowered);
    return result;
}

static int evaluate(const RuleNode *node, PyObject *event) {
    switch (node->kind) {
    case R_ITEM:
        return evaluate_item(node, event);
    case R_NOT: {
        int result = evaluate(node->children[0], event);
        return result == R_TRUE ? R_FALSE : result == R_FALSE ? R_TRUE : result;
    }
    default: {
        int decisive = node->kind == R_AND ? R_FALSE : R_TRUE, unknown = 0;
        for (Py_ssize_t i = 0; i < node->count; i++) {
            int result = evaluate(node->children[i], event);
            if (result == R_ERROR || result == decisive)
                return result;
            unknown |= result == R_UNKNOWN;
        }
        return unknown ? R_UNKNOWN : (decisive == R_FALSE ? R_TRUE : R_FALSE);
    }
    }
}

/* --- the type -------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    RuleNode *root;
    PyObject *fallback;
} RulePredicate;

static PyObject *RulePredicate_call(RulePredicate *self, PyObject *args, PyObject *kwargs) {
    PyObject *event;
    if (kwargs != NULL || !PyArg_UnpackTuple(args, "predicate", 1, 1, &event))
        return PyErr_Format(PyExc_TypeError, "a rule predicate takes one event");
    if (self->root == NULL || self->fallback == NULL)
        return PyErr_Format(PyExc_ValueError, "the rule predicate was not initialised");
    int result = PyDict_CheckExact(event) ? evaluate(self->root, event) : R_UNKNOWN;
    if (result == R_ERROR)
        return NULL;
    if (result == R_UNKNOWN)
        return PyObject_CallOneArg(self->fallback, event);
    return PyBool_FromLong(result == R_TRUE);
}

static PyObject *RulePredicate_verdict(RulePredicate *self, PyObject *event) {
    if (self->root == NULL)
        return PyErr_Format(PyExc_ValueError, "the rule predicate was not initialised");
    int result = PyDict_CheckExact(event) ? evaluate(self->root, event) : R_UNKNOWN;
    if (result == R_ERROR)
        return NULL;
    if (result == R_UNKNOWN)
        Py_RETURN_NONE;
    return PyBool_FromLong(result == R_TRUE);
}

static int RulePredicate_init(RulePredicate *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"program", "fallback", NULL};
    PyObject *program, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:RulePredicate", keywords, &program, &fallback))
        return -1;
    RuleNode *root = build_rule(program, 0);
    if (root == NULL)
        return -1;
    free_rule(self->root);
    self->root = root;
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    return 0;
}

static void RulePredicate_dealloc(RulePredicate *self) {
    free_rule(self->root);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef RulePredicate_methods[] = {
    {"verdict", (PyCFunction)RulePredicate_verdict, METH_O,
     "verdict(event) -> True, False, or None when the fallback would decide."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RulePredicateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sigma.backends.okta.engine._projection_kernel.RulePredicate",
    .tp_basicsize = sizeof(RulePredicate),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RulePredicate(program, fallback): a rule of caseless literal tests; event -> bool.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RulePredicate_init,
    .tp_call = (ternaryfunc)RulePredicate_call,
    .tp_dealloc = (destructor)RulePredicate_dealloc,
    .tp_methods = RulePredicate_methods,
};

/* Called by the module's init (projection_kernel.c). */
int add_rule_predicates(PyObject *module) {
    if (PyType_Ready(&RulePredicateType) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "RulePredicate", (PyObject *)&RulePredicateType);
}
