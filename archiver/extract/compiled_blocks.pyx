# cython: language_level=3, boundscheck=False, wraparound=False
"""content.select and filters.keep, the two passes over a page's text blocks, with the
element tree held in C arrays instead of dicts keyed by lxml's proxies: the same output
for a fraction of the CPU (docs/extraction.md, "The compiled passes").

content.py and filters.py hold both passes in Python and say what they decide;
compiled.py takes this module where it is built for the lxml that is installed;
tests/test_compiled_blocks.py checks that both give the same on every input they are
given. The rules stay where they are written: the thresholds, tag sets and regular
expressions are handed over by configure() at the Python modules' import. Where the
input is not what the extractor makes (a block's element that is not an lxml element,
blocks from several documents, another is_prose), the passes return None and the
Python ones run.

The sums are exact integers, as in Python; the container's score is the same double
arithmetic, in the same order (setup.py turns off the contraction of a * b + c into one
rounding, which Python never does).
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_Contains, PyUnicode_GET_LENGTH, PyUnicode_READ_CHAR
from libc.stdint cimport uintptr_t
from libc.string cimport memset
from lxml.includes.tree cimport xmlNode
cimport lxml.includes.etreepublic as cetree

cetree.import_lxml__etree()

# as compiled_walk.BUILT_FOR: the proxies' layout is only known for this lxml
BUILT_FOR = cetree.LXML_VERSION_STRING.decode("ascii")

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)


# -- the prose test (content.is_prose) ---------------------------------------------------

cdef Py_ssize_t MIN_PROSE
cdef double MAX_LINK_DENSITY
cdef object _dense_findall          # content._DENSE_SCRIPT.findall
cdef object _python_is_prose        # content.is_prose: keep() takes its place for it


cdef inline double _density(Py_ssize_t link_chars, Py_ssize_t length) noexcept:
    """Block.link_density"""
    return link_chars / <double>length if length else 0.0


cdef bint _is_prose(Py_ssize_t link_chars, str text) except -1:
    """content.is_prose, given the block's link characters and text."""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(text)
    if link_chars and _density(link_chars, length) > MAX_LINK_DENSITY:
        return False
    if length >= MIN_PROSE:
        return True
    if 3 * length < MIN_PROSE or PyUnicode_IS_ASCII(text):
        return False
    return length + 2 * len(_dense_findall(text)) >= MIN_PROSE


# -- content.select ----------------------------------------------------------------------

cdef double PENALTY, LAYOUT_SHARE, KEEP_SHARE, TEASER_SPAN
cdef Py_ssize_t TEASER_LEVELS, TEASER_LINK
cdef double TEASER_LINK_DENSITY
cdef frozenset _NOT_CONTAINERS      # as bytes, the names libxml2 keeps
cdef object _LAYOUT


def configure_select(content, boilerplate):
    """content.py's thresholds and boilerplate's LAYOUT, given at content's import."""
    global MIN_PROSE, MAX_LINK_DENSITY, PENALTY, LAYOUT_SHARE, KEEP_SHARE, TEASER_SPAN
    global TEASER_LEVELS, TEASER_LINK, TEASER_LINK_DENSITY, _NOT_CONTAINERS, _LAYOUT
    global _dense_findall, _python_is_prose
    MIN_PROSE = content.MIN_PROSE
    MAX_LINK_DENSITY = content.MAX_LINK_DENSITY
    PENALTY = content.PENALTY
    LAYOUT_SHARE = content.LAYOUT_SHARE
    KEEP_SHARE = content.KEEP_SHARE
    TEASER_SPAN = content.TEASER_SPAN
    TEASER_LEVELS = content.TEASER_LEVELS
    TEASER_LINK = content.TEASER_LINK
    TEASER_LINK_DENSITY = content.TEASER_LINK_DENSITY
    _NOT_CONTAINERS = frozenset(tag.encode("utf-8") for tag in content.NOT_CONTAINERS)
    _LAYOUT = boilerplate.LAYOUT
    _dense_findall = content._DENSE_SCRIPT.findall
    _python_is_prose = content.is_prose


cdef struct Node:
    # an element that holds blocks, or one above such an element (content._Tree)
    xmlNode* c_node
    Py_ssize_t parent               # its index, or -1 above the root
    Py_ssize_t prose, total         # _Tree.sums, then leaving_out's kept sums
    Py_ssize_t card_prose           # the teaser counts over the blocks' short chains:
    Py_ssize_t card_headlines       # prose blocks, linked headlines, all text
    Py_ssize_t card_text
    bint starts_path                # the first node of a path (see _Tree.order_paths)
    bint headline                   # above (or is) the page's first h1 block
    bint dropped                    # dropped furniture
    bint left_out                   # dropped furniture or inside some
    bint reached                    # upward_from has met it


cdef struct Piece:
    # a block as select reads it
    Py_ssize_t node                 # index of its element, or -1 for none
    Py_ssize_t length
    bint prose
    bint linked_headline


cdef inline size_t _slot_of(xmlNode* c_node, size_t mask) noexcept:
    # nodes are allocated at least 16 bytes apart: the low bits say nothing
    return ((<uintptr_t>c_node >> 4) * <size_t>0x9E3779B97F4A7C15ULL >> 20) & mask


cdef inline xmlNode* _parent_element(xmlNode* c_node) noexcept:
    """As lxml's getparent(): the parent if it is an element (not the document), else NULL."""
    c_node = c_node.parent
    if c_node is NULL or not cetree._isElement(c_node):
        return NULL
    return c_node


cdef class _Tree:
    """content._Tree over libxml2's nodes: the elements that hold blocks and all those
    above them in an array, found by their node's address in an open hash table."""
    cdef Node* nodes
    cdef Py_ssize_t count, capacity
    cdef Py_ssize_t* slots          # index + 1, 0 for an empty slot
    cdef size_t mask
    cdef Py_ssize_t* order          # content._Tree.deepest_first: children before parents

    def __dealloc__(self):
        PyMem_Free(self.nodes)
        PyMem_Free(self.slots)
        PyMem_Free(self.order)

    cdef int reserve(self, Py_ssize_t wanted) except -1:
        cdef Py_ssize_t size = 64
        while size < 2 * wanted:
            size *= 2
        self.capacity = size // 2
        self.nodes = <Node*>PyMem_Malloc(self.capacity * sizeof(Node))
        self.slots = <Py_ssize_t*>PyMem_Malloc(size * sizeof(Py_ssize_t))
        if self.nodes is NULL or self.slots is NULL:
            raise MemoryError()
        memset(self.slots, 0, size * sizeof(Py_ssize_t))
        self.mask = size - 1
        return 0

    cdef int grow(self) except -1:
        cdef Py_ssize_t size = 4 * self.capacity, i
        cdef size_t slot
        cdef Node* nodes = <Node*>PyMem_Realloc(self.nodes, 2 * self.capacity * sizeof(Node))
        if nodes is NULL:
            raise MemoryError()
        self.nodes = nodes
        cdef Py_ssize_t* slots = <Py_ssize_t*>PyMem_Malloc(size * sizeof(Py_ssize_t))
        if slots is NULL:
            raise MemoryError()
        memset(slots, 0, size * sizeof(Py_ssize_t))
        PyMem_Free(self.slots)
        self.slots = slots
        self.mask = size - 1
        self.capacity *= 2
        for i in range(self.count):
            slot = _slot_of(self.nodes[i].c_node, self.mask)
            while slots[slot]:
                slot = (slot + 1) & self.mask
            slots[slot] = i + 1
        return 0

    cdef inline Py_ssize_t find(self, xmlNode* c_node) noexcept:
        """The index of c_node, or -1."""
        cdef size_t slot = _slot_of(c_node, self.mask)
        cdef Py_ssize_t found
        while True:
            found = self.slots[slot]
            if found == 0:
                return -1
            if self.nodes[found - 1].c_node == c_node:
                return found - 1
            slot = (slot + 1) & self.mask

    cdef Py_ssize_t add(self, xmlNode* c_node) except -1:
        """A new node's index (c_node is not in the table)."""
        if self.count == self.capacity:
            self.grow()
        cdef size_t slot = _slot_of(c_node, self.mask)
        while self.slots[slot]:
            slot = (slot + 1) & self.mask
        cdef Py_ssize_t index = self.count
        self.slots[slot] = index + 1
        memset(&self.nodes[index], 0, sizeof(Node))
        self.nodes[index].c_node = c_node
        self.nodes[index].parent = -1
        self.count += 1
        return index

    cdef Py_ssize_t climb(self, xmlNode* c_node) except -2:
        """The index of c_node, added with the elements above it that are not in yet (a
        path, as content._Tree finds them: its nodes get consecutive indices, bottom-up)."""
        cdef Py_ssize_t found = self.find(c_node), index, below = -1, first = -1
        if found >= 0:
            return found
        while c_node is not NULL:
            found = self.find(c_node)
            if found >= 0:
                break
            index = self.add(c_node)
            if below >= 0:
                self.nodes[below].parent = index
            else:
                first = index
                self.nodes[index].starts_path = True
            below = index
            c_node = _parent_element(c_node)
        if found >= 0:
            self.nodes[below].parent = found
        return first

    cdef int order_paths(self) except -1:
        """content._Tree.deepest_first into self.order: later paths first, each bottom-up;
        every child then comes before its parent."""
        self.order = <Py_ssize_t*>PyMem_Malloc((self.count + 1) * sizeof(Py_ssize_t))
        if self.order is NULL:
            raise MemoryError()
        cdef Py_ssize_t start, end = self.count, filled = 0, index
        for start in range(self.count - 1, -1, -1):
            if self.nodes[start].starts_path:
                for index in range(start, end):
                    self.order[filled] = index
                    filled += 1
                end = start
        return 0


cdef class _Pieces:
    """The blocks as select reads them, their elements put in a tree; usable is False
    where a block's element is not an lxml element of the one document."""
    cdef Piece* pieces
    cdef Py_ssize_t count
    cdef Py_ssize_t first_h1        # the first block tagged h1, or -1
    cdef cetree._Document doc
    cdef bint usable

    def __dealloc__(self):
        PyMem_Free(self.pieces)

    cdef int read(self, list blocks, _Tree tree) except -1:
        cdef Py_ssize_t n = len(blocks), i, link_chars
        cdef cetree._Element element
        cdef str text
        self.pieces = <Piece*>PyMem_Malloc((n + 1) * sizeof(Piece))
        if self.pieces is NULL:
            raise MemoryError()
        self.count = n
        self.first_h1 = -1
        self.usable = True
        for i in range(n):
            block = blocks[i]
            text = block.text
            link_chars = block.link_chars
            piece = &self.pieces[i]
            piece.length = PyUnicode_GET_LENGTH(text)
            piece.prose = _is_prose(link_chars, text)
            piece.linked_headline = (
                link_chars != 0 and piece.length >= TEASER_LINK
                and _density(link_chars, piece.length) >= TEASER_LINK_DENSITY)
            if self.first_h1 < 0 and block.tag == "h1":
                self.first_h1 = i
            held = block.element
            if held is None:
                piece.node = -1
                continue
            if not isinstance(held, cetree._Element):
                self.usable = False
                return 0
            element = <cetree._Element>held
            if self.doc is None:
                self.doc = element._doc
            elif element._doc is not self.doc:
                self.usable = False
                return 0
            piece.node = tree.climb(element._c_node)
        return 0


def select(blocks, furniture, deadline):
    """content.select(blocks, furniture, deadline): (container element or None, set of
    furniture elements to leave out); None where the Python select must run."""
    if type(blocks) is not list or type(furniture) is not dict:
        return None
    for element in furniture:
        if not isinstance(element, cetree._Element):
            return None
    cdef _Tree tree = _Tree()
    tree.reserve(4 * len(blocks) + 16)
    cdef _Pieces pieces = _Pieces()
    pieces.read(blocks, tree)
    if not pieces.usable:
        return None
    tree.order_paths()
    return _select(pieces, tree, furniture, deadline)


cdef tuple _select(_Pieces blocks, _Tree tree, dict furniture, deadline):
    cdef Py_ssize_t n = blocks.count, i, index, up, held_prose, held
    cdef Piece* pieces = blocks.pieces
    cdef Node* nodes = tree.nodes
    cdef Py_ssize_t* order = tree.order
    cdef bint linked = False
    if blocks.first_h1 >= 0:                    # content._headline_ancestors
        index = pieces[blocks.first_h1].node
        while index >= 0:
            nodes[index].headline = True
            index = nodes[index].parent
    for i in range(n):
        if pieces[i].linked_headline:
            linked = True
            break
    deadline.check()
    if linked:
        _unflag_teasers(pieces, n, nodes)
        deadline.check()

    # _Tree.sums
    cdef Py_ssize_t page_prose = 0
    for i in range(n):
        index = pieces[i].node
        if pieces[i].prose:
            page_prose += pieces[i].length
            if index >= 0:
                nodes[index].prose += pieces[i].length
        if index >= 0:
            nodes[index].total += pieces[i].length
    for i in range(tree.count):
        index = order[i]
        up = nodes[index].parent
        if up >= 0:
            nodes[up].total += nodes[index].total
            nodes[up].prose += nodes[index].prose

    # the furniture that is dropped
    cdef set dropped = set()
    cdef cetree._Element element
    cdef double share
    cdef bint any_inside = False
    for key, kind in furniture.items():
        element = <cetree._Element>key
        index = tree.find(element._c_node)
        held_prose = nodes[index].prose if index >= 0 else 0
        share = held_prose / <double>page_prose if page_prose else 0.0
        if kind == _LAYOUT and share >= LAYOUT_SHARE:
            continue
        if share >= KEEP_SHARE and index >= 0 and nodes[index].headline:
            continue                # it holds the headline and most prose: the article
        dropped.add(element)
        if index >= 0:
            nodes[index].dropped = True
            any_inside = True
    deadline.check()

    # _Tree.inside (parents first) and _Tree.leaving_out, in place: what each outermost
    # left-out element holds is taken off the elements above it, none of them left out
    if any_inside:
        for i in range(tree.count - 1, -1, -1):
            index = order[i]
            up = nodes[index].parent
            nodes[index].left_out = nodes[index].dropped or (up >= 0 and nodes[up].left_out)
        for index in range(tree.count):
            up = nodes[index].parent
            if not nodes[index].left_out or (up >= 0 and nodes[up].left_out):
                continue
            held, held_prose = nodes[index].total, nodes[index].prose
            while up >= 0:
                nodes[up].total -= held
                nodes[up].prose -= held_prose
                up = nodes[up].parent

    # _Tree.upward_from, each element scored as it is first met (ties go to the first)
    cdef Py_ssize_t best = -1
    cdef double score, best_score = float("-inf")
    for i in range(n):
        index = pieces[i].node
        if not pieces[i].prose or index < 0 or nodes[index].left_out:
            continue
        while index >= 0 and not nodes[index].reached:
            nodes[index].reached = True
            score = nodes[index].prose - PENALTY * <double>(nodes[index].total
                                                            - nodes[index].prose)
            if score > best_score and _may_contain(nodes[index].c_node):
                best, best_score = index, score
            index = nodes[index].parent
    if best < 0:
        return None, dropped
    return cetree.elementFactory(blocks.doc, nodes[best].c_node), dropped


cdef inline bint _may_contain(xmlNode* c_node) except -1:
    """el.tag not in content.NOT_CONTAINERS (a tag with a namespace is in none)."""
    return c_node.ns is not NULL or <bytes>c_node.name not in _NOT_CONTAINERS


cdef void _unflag_teasers(Piece* pieces, Py_ssize_t n, Node* nodes) noexcept:
    """content._unflag_teasers over each block's element and the TEASER_LEVELS above it."""
    cdef Py_ssize_t i, index, level
    for i in range(n):
        index = pieces[i].node
        level = 0
        while index >= 0 and level <= TEASER_LEVELS:
            nodes[index].card_text += pieces[i].length
            if pieces[i].prose:
                nodes[index].card_prose += 1
            if pieces[i].linked_headline:
                nodes[index].card_headlines += 1
            index = nodes[index].parent
            level += 1
    for i in range(n):
        if not pieces[i].prose or pieces[i].node < 0:
            continue
        index = nodes[pieces[i].node].parent
        level = 1
        while index >= 0 and level <= TEASER_LEVELS:
            if (nodes[index].card_prose > 1
                    or nodes[index].card_text > TEASER_SPAN * pieces[i].length
                    or nodes[index].headline):
                break
            if nodes[index].card_headlines:
                pieces[i].prose = False
                break
            index = nodes[index].parent
            level += 1


# -- filters.keep ------------------------------------------------------------------------

cdef Py_ssize_t DEDUPE_MIN, DEDUPE_WINDOW, EDGE_SHORT, COOKIE_NOTICE_MAX
cdef object _markup_match, _breadcrumb_match, _ui_line_match, _credit_search
cdef object _numeric_date_search, _month_in_folded_search, _month_name_search
cdef object _date_words_sub, _word_findall, _cookies_search, _addresses_reader_search
cdef object _prompt_search, _site_suffix_match, _site_line_search
cdef tuple _credit_words, _prompt_words
cdef object _ignorecase_extras
cdef str _extra_chars
cdef frozenset _headings, _edge_tags


def configure_keep(filters, headings):
    """filters.py's thresholds, words and patterns, given at its import."""
    global DEDUPE_MIN, DEDUPE_WINDOW, EDGE_SHORT, COOKIE_NOTICE_MAX
    global _markup_match, _breadcrumb_match, _ui_line_match, _credit_search
    global _numeric_date_search, _month_in_folded_search, _month_name_search
    global _date_words_sub, _word_findall, _cookies_search, _addresses_reader_search
    global _prompt_search, _site_suffix_match, _site_line_search
    global _credit_words, _prompt_words, _ignorecase_extras, _extra_chars
    global _headings, _edge_tags
    DEDUPE_MIN = filters.DEDUPE_MIN
    DEDUPE_WINDOW = filters.DEDUPE_WINDOW
    EDGE_SHORT = filters.EDGE_SHORT
    COOKIE_NOTICE_MAX = filters.COOKIE_NOTICE_MAX
    _markup_match = filters._MARKUP.match
    _breadcrumb_match = filters._BREADCRUMB.match
    _ui_line_match = filters._UI_LINE.match
    _credit_search = filters._CREDIT.search
    _numeric_date_search = filters._NUMERIC_DATE.search
    _month_in_folded_search = filters._MONTH_IN_FOLDED.search
    _month_name_search = filters._MONTH_NAME.search
    _date_words_sub = filters._DATE_WORDS.sub
    _word_findall = filters._WORD.findall
    _cookies_search = filters._COOKIES.search
    _addresses_reader_search = filters._ADDRESSES_READER.search
    _prompt_search = filters._PROMPT.search
    _site_suffix_match = filters._SITE_SUFFIX.match
    _site_line_search = filters._SITE_LINE.search
    _credit_words = tuple(filters._CREDIT_WORDS)
    _prompt_words = tuple(filters._PROMPT_WORDS)
    _ignorecase_extras = filters._IGNORECASE_EXTRAS
    _extra_chars = filters._EXTRA_CHARS
    _headings = frozenset(headings)
    _edge_tags = frozenset(filters.EDGE_TAGS)


cdef str _folded(str text, str lowered):
    """filters._folded"""
    if PyUnicode_IS_ASCII(text):
        return lowered
    for char in _extra_chars:
        if PyUnicode_Contains(text, char):
            return text.translate(_ignorecase_extras).lower()
    return lowered


cdef bint _holds_any(str folded, tuple words) except -1:
    """filters._holds_any"""
    for word in words:
        if PyUnicode_Contains(folded, word):
            return True
    return False


cdef bint _has_digit(str text) noexcept:
    """filters._HAS_DIGIT.search(text): re's \\d in a str pattern is a decimal digit"""
    cdef Py_ssize_t i
    for i in range(PyUnicode_GET_LENGTH(text)):
        if Py_UNICODE_ISDECIMAL(PyUnicode_READ_CHAR(text, i)):
            return True
    return False


cdef bint _is_dateline(str text, str lowered) except -1:
    """filters._is_dateline"""
    if PyUnicode_GET_LENGTH(text) > 90 or not _has_digit(text):
        return False
    if not (_numeric_date_search(text) is not None
            or (_month_in_folded_search(_folded(text, lowered)) is not None
                and _month_name_search(text) is not None)):
        return False
    return len(_word_findall(_date_words_sub(" ", text))) <= 1


cdef bint _is_noise(str text, str lowered) except -1:
    """filters._is_noise"""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(text)
    if length and PyUnicode_READ_CHAR(text, 0) == u"<" and _markup_match(text) is not None:
        return True
    if length <= 200 and _breadcrumb_match(text) is not None:
        return True
    if length <= 100 and (
            _ui_line_match(text) is not None
            or (_holds_any(_folded(text, lowered), _credit_words)
                and _credit_search(text) is not None)
            or _is_dateline(text, lowered)):
        return True
    if (length <= COOKIE_NOTICE_MAX and PyUnicode_Contains(lowered, "cookie")
            and _cookies_search(text) is not None
            and _addresses_reader_search(text) is not None):
        return True
    return (length <= 320 and _holds_any(_folded(text, lowered), _prompt_words)
            and _prompt_search(text) is not None)


cdef bint _is_title(str key, str title_key) except -1:
    """filters._is_title"""
    if not title_key or not key.startswith(title_key):
        return False
    if key == title_key:
        return True
    return _site_suffix_match(key[len(title_key):]) is not None


cdef bint _inside_any(str key, list earlier) except -1:
    """filters._inside_any: one of the earlier keys holds key. (Joined, they hold a key
    without "\n" only where one of them does; one shorter than key cannot hold it.)"""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(key)
    cdef str one
    for one in earlier:
        if PyUnicode_GET_LENGTH(one) >= length and PyUnicode_Contains(one, key):
            return True
    return False


cdef bint _repeats(str key, set seen, list recent) except -1:
    """keep's test for a repeated caption or pull quote; a key that is not one is
    remembered, in seen and among the DEDUPE_WINDOW recent ones."""
    if PyUnicode_GET_LENGTH(key) >= DEDUPE_MIN and (key in seen or _inside_any(key, recent)):
        return True
    seen.add(key)
    recent.append(key)
    if len(recent) > DEDUPE_WINDOW:
        del recent[0]
    return False


cdef class _Candidate:
    """A block that passed keep's first filters, with the fields the rest reads."""
    cdef object block
    cdef str text
    cdef Py_ssize_t link_chars
    cdef bint prose


cdef bint _linky(_Candidate c) except -1:
    """filters._linky"""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(c.text)
    return (c.link_chars != 0 and _density(c.link_chars, length) > 0.5
            and (length < 300 or bool(c.block.in_list)))


cdef bint _edge_furniture(_Candidate c) except -1:
    """filters._edge_furniture"""
    if _linky(c):
        return True
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(c.text)
    if length <= 320 and _site_line_search(c.text) is not None:
        return True
    tag = c.block.tag
    if length >= EDGE_SHORT or tag in _headings or tag in _edge_tags:
        return False
    element = c.block.element
    return element is None or "caption" not in (element.get("class") or "").lower()


def keep(blocks, title, is_prose):
    """filters.keep(blocks, title, is_prose); None where is_prose is not content.is_prose
    or the blocks are not a list (the Python keep then runs)."""
    if (is_prose is not _python_is_prose or _python_is_prose is None
            or type(blocks) is not list or type(title) is not str):
        return None
    cdef str title_key = " ".join(title.lower().split())
    cdef list candidates = []
    cdef set seen = set()
    cdef list recent = []
    cdef bint first_h1 = True, any_prose = False
    cdef str text, key
    cdef _Candidate c
    for block in blocks:
        text = block.text
        key = text.lower()
        if first_h1 and block.tag == "h1":
            first_h1 = False                # the headline belongs to the title line,
            continue
        if _is_title(key, title_key) or _is_noise(text, key) or _repeats(key, seen, recent):
            continue                        # and so does the title
        c = _Candidate.__new__(_Candidate)
        c.block = block
        c.text = text
        c.link_chars = block.link_chars
        c.prose = _is_prose(c.link_chars, text)
        any_prose = any_prose or c.prose
        candidates.append(c)
    cdef list kept = []
    if not any_prose:
        for c in candidates:
            if not _linky(c):
                kept.append(c.text)
        return kept
    cdef Py_ssize_t first = 0, last = len(candidates) - 1, i
    while not (<_Candidate>candidates[first]).prose:
        first += 1
    while not (<_Candidate>candidates[last]).prose:
        last -= 1
    for i in range(len(candidates)):
        c = candidates[i]
        if (first <= i <= last and not _linky(c)) or (not first <= i <= last
                                                        and not _edge_furniture(c)):
            kept.append(c.text)
    return kept
