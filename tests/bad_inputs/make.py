#!/usr/bin/env python3
"""Regenerates the bad-input corpus in this folder from the sample letters in data/samples.

The files are committed; this script documents how each was made. Only encrypted.pdf needs a
package (pypdf with cryptography: `pip install pypdf cryptography`). Larger cases (a 50 MB
file, a letter with 200 items, a decompression bomb) are built by tests/bad_input.rs at test
time instead of being committed.
"""
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "..", "data", "samples")
letter = open(os.path.join(SAMPLES, "CM17-0013716.txt"), encoding="utf-8").read()
pdf = open(os.path.join(SAMPLES, "CM16-0234464.pdf"), "rb").read()


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(HERE, name), mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
        f.write(data)


write("empty.txt", b"")
# Deterministic noise with NUL bytes, under a .txt and a .pdf name.
noise = bytes((i * 7919 + 13) % 256 for i in range(4096))
write("garbage.txt", noise)
write("garbage.pdf", noise)
# Latin-1 (not UTF-8): an accented word early in an otherwise normal letter.
write("latin1.txt", letter.replace("Dear", "Dear Se\u00f1or", 1).encode("latin-1", "replace"))
# UTF-16 little-endian with a BOM: a good letter that must parse.
write("utf16le.txt", b"\xff\xfe" + letter.encode("utf-16-le"))
# A PDF cut in the middle.
write("truncated.pdf", pdf[: len(pdf) * 2 // 5])
# A letter whose items section is missing, and one cut off right after its heading.
head, sep, _ = letter.partition("IMR ISSUES, DECISIONS AND RATIONALES")
write("no_items.txt", head)
write("cut_off.txt", head + sep + "\n\n")


def make_pdf(objects):
    """A PDF from object bodies (1-based), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# A scanned page: one grey image, no text layer.
w = h = 64
pixels = zlib.compress(bytes((x ^ y) & 0xFF for y in range(h) for x in range(w)))
content = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
write("scanned.pdf", make_pdf([
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
    b"/Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
    b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
    b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(pixels))
    + pixels + b"\nendstream",
    b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
]))

# The sample PDF encrypted with a user password (AES-128).
try:
    import io
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    write("encrypted.pdf", buf.getvalue())
except ImportError:
    print("pypdf not installed: encrypted.pdf left as it is")

# Annotation files for the sample letter, each with one kind of bad span.
ann_text = letter
def ann(label, s, e):
    return "T1\t%s %d %d\t%s\n" % (label, s, e, ann_text[s:e].replace("\n", " "))
i = ann_text.index("Naproxen")
write("letter.txt", letter)
write("out_of_range.ann", "T1\tDRUG %d %d\tNaproxen\n" % (len(ann_text) + 10, len(ann_text) + 18))
write("reversed.ann", "T1\tDRUG %d %d\tNaproxen\n" % (i + 8, i))
write("overlapping.ann", ann("DRUG", i, i + 8) + ann("DOSE", i + 4, i + 14).replace("T1", "T2"))
write("mislabelled.ann", ann("MEDICATION", i, i + 8))
write("wrong_text.ann", "T1\tDRUG %d %d\tAspirin\n" % (i, i + 8))
print("written to", HERE)
