# cython: language_level=3
"""render._walk and boilerplate.furniture over libxml2's nodes instead of lxml's Python
API: the same output for a third of the CPU (docs/extraction.md, "The compiled passes").

render.py and boilerplate.py hold both passes in Python and say what they do;
compiled.py takes this module where it is built for the lxml that is installed;
tests/test_compiled_walk.py checks that both give the same on every input they are
given. Only the nodes' fields are read here (type, name, ns, children, next, parent,
content, properties, _private); no libxml2 function is called, so nothing links against
the libxml2 inside lxml. Python objects are made only where the Python passes keep one:
a proxy for each block element and each piece of furniture, a str for each text.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memset, strcmp, strlen
from lxml.includes.tree cimport const_xmlChar, xmlNode
from lxml.includes cimport tree
cimport lxml.includes.etreepublic as cetree

cetree.import_lxml__etree()

# The lxml whose headers this was built with: the layout of its proxies is only known
# for that one (compiled.py takes this module only when the installed lxml is the same).
BUILT_FOR = cetree.LXML_VERSION_STRING.decode("ascii")

cdef enum:
    INLINE = 0
    BLOCK = 1
    LIST = 2          # a block that is also a list
    LINK = 3
    CELL = 4

cdef dict _KINDS = {}       # a tag's name in libxml2 -> its kind
cdef dict _TAGS = {}        # a block's name -> the str lxml gives as its .tag


def configure(block_tags, lists, cells):
    """render.py's tag sets, given at its import so that they are stated in one place."""
    _KINDS.clear()
    _TAGS.clear()
    for tag in block_tags:
        _KINDS[tag.encode("utf-8")] = LIST if tag in lists else BLOCK
        _TAGS[tag.encode("utf-8")] = tag
    for tag in cells:
        _KINDS[tag.encode("utf-8")] = CELL
    _KINDS[b"a"] = LINK


cdef inline int _kind_of_name(xmlNode* node):
    if node.ns is not NULL:
        return INLINE               # its .tag would be "{uri}name": in none of the sets
    return _KINDS.get(<bytes>node.name, INLINE)


cdef enum:
    KIND_SLOTS = 256


cdef struct KindCache:
    # libxml2 keeps one copy of each name in a document's dictionary, so a page's few
    # dozen names are told apart by their address; a slot holds the last one seen there
    const_xmlChar* names[KIND_SLOTS]
    void* spaces[KIND_SLOTS]
    int kinds[KIND_SLOTS]


cdef inline int _kind(KindCache* cache, xmlNode* node) except -1:
    cdef size_t slot = (<size_t>node.name >> 3) % KIND_SLOTS
    if cache.names[slot] == node.name and cache.spaces[slot] == <void*>node.ns:
        return cache.kinds[slot]
    cdef int kind = _kind_of_name(node)
    cache.names[slot] = node.name
    cache.spaces[slot] = <void*>node.ns
    cache.kinds[slot] = kind
    return kind


cdef inline xmlNode* _next_walked(xmlNode* node) noexcept:
    """node or the first sibling after it that lxml's iterwalk visits (with no tag given,
    elements only: not comments, processing instructions or entities), or NULL."""
    while node is not NULL and node.type != tree.XML_ELEMENT_NODE:
        node = node.next
    return node


cdef inline xmlNode* _text_or_skip(xmlNode* node) noexcept:
    """As lxml's _textNodeOrSkip: the text node at node, past XInclude markers, or NULL."""
    while node is not NULL:
        if node.type == tree.XML_TEXT_NODE or node.type == tree.XML_CDATA_SECTION_NODE:
            return node
        if node.type != tree.XML_XINCLUDE_START and node.type != tree.XML_XINCLUDE_END:
            return NULL
        node = node.next
    return NULL


cdef object _text_from(xmlNode* node):
    """As lxml's .text (given the first child) and .tail (given the next sibling): the
    run of text nodes there, joined; None where it is empty, as the walk treats "" and
    None alike."""
    node = _text_or_skip(node)
    if node is NULL:
        return None
    cdef xmlNode* after = _text_or_skip(node.next)
    if after is NULL:                    # the common case: one text node
        if node.content is NULL or node.content[0] == 0:
            return None
        return PyUnicode_DecodeUTF8(<const char*>node.content,
                                    strlen(<const char*>node.content), NULL)
    cdef list pieces = []
    while node is not NULL:
        if node.content is not NULL:
            pieces.append(<bytes>node.content)
        node = _text_or_skip(node.next)
    joined = b"".join(pieces)
    return joined.decode("utf-8") if joined else None


cdef extern from "Python.h":
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)


# What str.isspace(), len(str.strip()) and render.normalise_space tell, read in one pass
# each: str's own methods count as whitespace exactly the characters Py_UNICODE_ISSPACE
# does.

cdef bint _is_blank(str text):
    """text.isspace()"""
    if not text:
        return False
    cdef Py_UCS4 char
    for char in text:
        if not Py_UNICODE_ISSPACE(char):
            return False
    return True


cdef Py_ssize_t _stripped_length(str text):
    """len(text.strip())"""
    cdef Py_ssize_t start = 0, end = len(text)
    while start < end and Py_UNICODE_ISSPACE(text[start]):
        start += 1
    while end > start and Py_UNICODE_ISSPACE(text[end - 1]):
        end -= 1
    return end - start


cdef str _normalised(str text):
    """" ".join(text.split()), without splitting text that is already so."""
    cdef Py_ssize_t n = len(text), i
    cdef Py_UCS4 char
    cdef bint after_space = True             # so that a leading space is caught
    for i in range(n):
        char = text[i]
        if char == u" ":
            if after_space:
                return " ".join(text.split())
            after_space = True
        elif Py_UNICODE_ISSPACE(char):
            return " ".join(text.split())
        else:
            after_space = False
    if after_space and n:
        return " ".join(text.split())        # a trailing space
    return text


cdef class _Walk:
    """render._walk's state: the text pending, its link text, the open blocks, lists."""
    cdef list out, parts, stack
    cdef Py_ssize_t link_chars
    cdef int in_link, lists
    cdef object block
    cdef dict opened, closed
    cdef KindCache cache

    def __cinit__(self):
        memset(&self.cache, 0, sizeof(KindCache))

    cdef flush(self):
        text = self.parts[0] if len(self.parts) == 1 else "".join(self.parts)
        text = "" if _is_blank(text) else _normalised(text)
        if text:
            if self.stack:
                top, tag = self.stack[-1]
            else:
                top, tag = None, ""
            self.out.append(self.block(text, min(self.link_chars, len(text)), tag,
                                       self.lists > 0, top))
        self.parts = []
        self.link_chars = 0

    cdef add(self, text):
        """Text of an element or after it; blank text with nothing pending is not kept."""
        if text is not None and (self.parts or not _is_blank(text)):
            self.parts.append(text)
            if self.in_link:
                self.link_chars += _stripped_length(text)

    cdef add_plain(self, xmlNode* node):
        """The tail of a skipped element: kept as it is."""
        tail = _text_from(node.next)
        if tail is not None:
            self.parts.append(tail)

    cdef start(self, cetree._Document doc, xmlNode* node):
        cdef int kind = _kind(&self.cache, node)
        cdef Py_ssize_t emitted
        if kind == BLOCK or kind == LIST:
            element = cetree.elementFactory(doc, node)
            if self.opened is not None:
                if self.parts:
                    emitted = len(self.out)
                    self.flush()
                    self.opened[element] = (len(self.out), len(self.out) == emitted,
                                            self.in_link, self.lists)
                else:
                    self.opened[element] = (len(self.out), True, self.in_link, self.lists)
            elif self.parts:
                self.flush()
            self.stack.append((element, _TAGS[<bytes>node.name]))
            if kind == LIST:
                self.lists += 1
        elif kind == LINK:
            self.in_link += 1
        elif kind == CELL:
            self.parts.append(" ")
        self.add(_text_from(node.children))

    cdef end(self, xmlNode* node, bint is_root):
        cdef int kind = _kind(&self.cache, node)
        if kind == BLOCK or kind == LIST:
            if self.parts:
                self.flush()
            element, _tag = self.stack.pop()
            if self.closed is not None:
                self.closed[element] = len(self.out)
            if kind == LIST:
                self.lists -= 1
        elif kind == LINK:
            self.in_link -= 1
        elif kind == CELL:
            self.parts.append(" ")
        if not is_root:
            self.add(_text_from(node.next))


def walk(cetree._Element root not None, deadline, skip, spans, block):
    """render._walk(root, deadline, skip, spans), its Blocks made by `block`."""
    cdef _Walk w = _Walk()
    w.out, w.parts, w.stack = [], [], []
    w.link_chars = w.in_link = w.lists = 0
    w.block = block
    w.opened = spans.opened if spans is not None else None
    w.closed = spans.closed if spans is not None else None
    # a proxy's id() is the address libxml2 keeps in its node's _private: a node with
    # no proxy cannot be in skip, which holds proxies
    cdef set skipped = {id(element) for element in skip} if skip else None
    cdef cetree._Document doc = root._doc
    cdef xmlNode* top = root._c_node
    cdef xmlNode* node = top
    cdef xmlNode* child
    cdef Py_ssize_t count = 0
    if top.type != tree.XML_ELEMENT_NODE:      # a comment, as lxml's iterwalk says
        raise ValueError(f"Input object is not an XML element: "
                         f"{type(root).__module__}.{type(root).__name__}")

    while True:
        if (skipped is not None and node._private is not NULL
                and <Py_ssize_t>node._private in skipped):
            w.add_plain(node)             # its subtree and its end are passed over
        else:
            w.start(doc, node)
            count += 1
            if count & 255 == 0:
                deadline.check()
            child = _next_walked(node.children)
            if child is not NULL:
                node = child
                continue
            w.end(node, node is top)
        # past node's end: its next sibling, or up to the end of its parent
        while node is not top:
            child = _next_walked(node.next)
            if child is not NULL:
                node = child
                break
            node = node.parent
            w.end(node, node is top)
        else:
            break
    if w.parts:
        w.flush()
    return w.out


# -- furniture: boilerplate.furniture's scan of every element's attributes ---------------

cdef inline bint _named(const_xmlChar* name, const char* wanted) noexcept:
    return strcmp(<const char*>name, wanted) == 0


cdef xmlNode* _next_in_document(xmlNode* node, xmlNode* top) noexcept:
    """The element after node in document order, inside top; NULL past the last."""
    cdef xmlNode* after = _next_walked(node.children)
    if after is not NULL:
        return after
    while node is not top:
        after = _next_walked(node.next)
        if after is not NULL:
            return after
        node = node.parent
    return NULL


# the attributes furniture() reads, by slot
cdef enum:
    HIDDEN = 0
    ARIA_HIDDEN = 1
    ROLE = 2
    STYLE = 3
    CLASS = 4
    ID = 5
    WATCHED = 6


cdef const char* _WATCHED_NAMES[WATCHED]
_WATCHED_NAMES[HIDDEN] = "hidden"
_WATCHED_NAMES[ARIA_HIDDEN] = "aria-hidden"
_WATCHED_NAMES[ROLE] = "role"
_WATCHED_NAMES[STYLE] = "style"
_WATCHED_NAMES[CLASS] = "class"
_WATCHED_NAMES[ID] = "id"


cdef int _watched_slot(const_xmlChar* name) noexcept:
    """The slot of an attribute furniture() reads, or -1."""
    cdef int slot
    for slot in range(WATCHED):
        if strcmp(<const char*>name, _WATCHED_NAMES[slot]) == 0:
            return slot
    return -1


cdef object _attribute_value(cetree._Document doc, xmlNode* node, tree.xmlAttr* attribute):
    """As lxml's el.get(name) for this attribute: its text ("" for one without a value)."""
    cdef xmlNode* child = attribute.children
    if child is NULL:
        return ""
    if child.next is NULL and child.type == tree.XML_TEXT_NODE and child.content is not NULL:
        return PyUnicode_DecodeUTF8(<const char*>child.content,
                                    strlen(<const char*>child.content), NULL)
    # entities or several pieces: as lxml puts them together
    return cetree.elementFactory(doc, node).get((<bytes>attribute.name).decode("utf-8"))


def furniture(cetree._Element root not None, roles, hidden_style, classify, other, layout):
    """boilerplate.furniture(root): element -> `other` or `layout`, in document order.

    roles, hidden_style and classify are boilerplate's _ROLES, _HIDDEN_STYLE.search and
    classify_name, given so that the rules are stated in one place."""
    cdef dict found = {}
    cdef cetree._Document doc = root._doc
    cdef xmlNode* top = root._c_node
    cdef xmlNode* node = top
    cdef tree.xmlAttr* attribute
    cdef tree.xmlAttr* watched[WATCHED]
    cdef int slot
    if top.type != tree.XML_ELEMENT_NODE:
        return found                   # a comment: root.iter(etree.Element) gives nothing
    while True:
        if node.ns is NULL and _named(node.name, "header"):
            found[cetree.elementFactory(doc, node)] = other   # title, byline, dek
        elif node.properties is not NULL:
            memset(watched, 0, sizeof(watched))
            attribute = node.properties
            while attribute is not NULL:
                # el.get(name) reads the first attribute of that name without a namespace
                if attribute.ns is NULL:
                    slot = _watched_slot(attribute.name)
                    if slot >= 0 and watched[slot] is NULL:
                        watched[slot] = attribute
                attribute = attribute.next
            kind = _furniture_kind(doc, node, watched, roles, hidden_style, classify, other, layout)
            if kind is not None:
                found[cetree.elementFactory(doc, node)] = kind
        node = _next_in_document(node, top)
        if node is NULL:
            break
    found.pop(root, None)
    return found


cdef object _furniture_kind(cetree._Document doc, xmlNode* node, tree.xmlAttr** watched,
                            roles, hidden_style, classify, other, layout):
    cdef tree.xmlAttr* aria_hidden = watched[ARIA_HIDDEN]
    if watched[HIDDEN] is not NULL or (
            aria_hidden is not NULL and _attribute_value(doc, node, aria_hidden) == "true"):
        return other
    if watched[ROLE] is not NULL:
        value = _attribute_value(doc, node, watched[ROLE])
        if value and value.lower() in roles:
            return layout
    if watched[STYLE] is not NULL:
        value = _attribute_value(doc, node, watched[STYLE])
        if value and hidden_style(value):
            return other
    if watched[CLASS] is NULL and watched[ID] is NULL:
        return None
    name = ((_attribute_value(doc, node, watched[CLASS]) if watched[CLASS] is not NULL else "")
            + " " + (_attribute_value(doc, node, watched[ID]) if watched[ID] is not NULL else ""))
    if len(name) > 1:
        return classify(name)
    return None
