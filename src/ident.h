/* ident.h: the one normal form in which waybill numbers, order numbers and courier codes are
 * compared (POLICY.md, check 2; FORMATS.md, "Courier manifests"). Pure: no database, no clock.
 *
 * A person, a spreadsheet or a courier system may write one number several ways: `YT620`,
 * `yt620`, full-width `ＹＴ６２０`, `YT620` followed by a zero-width space or a BOM. They are one
 * number, so one parcel, one order: the engine keys and compares them only in the normal form
 * below, and stores that form in the parsed columns of lines (the bytes as received stay in
 * file_chunks). A courier is compared as its code: a Chinese name of FORMATS.md's list (圆通) is
 * its code (YTO), and a code is folded like a number (`ｙｔｏ` is YTO).
 *
 * The normal form of a text, ident_normalize:
 *   1. remove every space and invisible character (ident_is_invisible);
 *   2. Unicode NFKC: compatibility forms to their plain form (full width to half width, ligatures
 *      split, circled digits to digits);
 *   3. full case folding (g_utf8_casefold: ß is ss), then upper case: couriers print their
 *      numbers in upper case, so the stored form reads as the label does;
 *   4. NFKC again and step 1 again: NFKC may itself produce a space (U+00A8 is a space and a
 *      combining diaeresis) and removing one may leave a pair NFC composes, so the steps repeat
 *      until nothing changes (at most IDENT_ROUNDS_MAX rounds; twice in practice).
 * The result is its own normal form: ident_normalize(ident_normalize(x)) == ident_normalize(x).
 * Printable ASCII without spaces takes a fast path (upper-casing only), which gives the same
 * result. Hyphens, dots and other visible punctuation are kept: `YT-620` and `YT620` stay two
 * numbers. */
#ifndef SUBSIDY_IDENT_H
#define SUBSIDY_IDENT_H

#include <glib.h>

/* The normal form is reached within this many rounds of steps 1-4 (a unit test holds it to this
 * on every code point). */
#define IDENT_ROUNDS_MAX 4

/* TRUE for a character the normal form removes: "spaces and invisible characters".
 *   - Unicode White_Space: U+0009-U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
 *     U+2029, U+202F, U+205F, U+3000;
 *   - every control (Cc: U+0000-U+001F, U+007F-U+009F) and every format character (Cf: the
 *     soft hyphen U+00AD, zero-width space, non-joiner and joiner U+200B-U+200D, the direction
 *     marks and embeddings U+200E-U+200F, U+202A-U+202E, U+2066-U+2069, the word joiner U+2060
 *     and invisible operators U+2061-U+2064, the BOM U+FEFF, U+061C, U+180E, the tag characters
 *     U+E0001, U+E0020-U+E007F, ...);
 *   - the rest of Unicode's Default_Ignorable_Code_Point: the combining grapheme joiner U+034F,
 *     the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, U+17B4-U+17B5, the variation selectors
 *     U+180B-U+180D, U+180F, U+FE00-U+FE0F, U+E0100-U+E01EF, and the reserved U+2065,
 *     U+FFF0-U+FFF8, U+E0000-U+E0FFF. */
gboolean ident_is_invisible(gunichar c);

/* The normal form of text (see above) as a new string; "" when nothing visible is left (callers
 * decide what an empty number means). NULL, and nothing else, when text is not valid UTF-8: the
 * manifest reader and the registry loader decode or refuse such bytes before any field exists, so
 * for them NULL is a broken invariant. */
char *ident_normalize(const char *text);

/* The courier code of a courier field's text: its normal form, and when that is a name of
 * FORMATS.md's list (中通 ZTO, 圆通 YTO, 申通 STO, 韵达 YUNDA, 邮政 EMS, EMS EMS, 百世 BEST,
 * 极兔 JT, 顺丰 SF, each compared in normal form) the code it names. *named (may be NULL) says
 * whether it was such a name. "" when nothing visible is left; NULL when text is not valid
 * UTF-8. */
char *ident_courier_code(const char *text, gboolean *named);

/* The code FORMATS.md's list gives a name already in normal form, or NULL when it lists no such
 * name. */
const char *ident_courier_name_code(const char *normal);

/* The order a line belongs to within its shop (POLICY.md, "Per order, not per parcel"): its order
 * number when it has one, else its own waybill: "o:<order_no>" or "w:<courier>:<waybill_no>",
 * each in normal form (idempotent, so a caller may pass stored values or the text of a file). An
 * order_no that is NULL or has nothing visible is no order number. */
char *ident_order_key(const char *order_no, const char *courier, const char *waybill_no);

/* ------------------------------------------------------------------------------------------ */
/* Identity numbers and phones: checked when the registry is loaded, compared when a line names
 * its sender (POLICY.md check 3 and duplicate detection). */

#define IDENT_ERROR ident_error_quark()
GQuark ident_error_quark(void);

/* A resident ID number (GB 11643): 17 digits and a check character. */
#define IDENT_ID_NO_LEN 18
/* A mobile number: 1, then 3-9, then nine digits. */
#define IDENT_PHONE_DIGITS 11
/* Longest digit string a sender phone may have and still be a number after prefixes: 0086 + 11. */
#define IDENT_PHONE_DIGITS_MAX 15
G_STATIC_ASSERT(IDENT_PHONE_DIGITS_MAX == IDENT_PHONE_DIGITS + 4);

/* The GB 11643 check character ('0'..'9' or 'X') of the first 17 characters of digits17, which
 * must be digits. */
char ident_id_check_char(const char *digits17);

/* TRUE when id_no is 17 digits and the right check character ('x' is taken as 'X'); otherwise
 * FALSE with a STATUS_DATAERR error saying what is wrong, quoting id_no. */
gboolean ident_id_no_valid(const char *id_no, GError **error);

/* The digits of text into buf (NUL-terminated), a leading 86 or 0086 dropped when 11 digits
 * remain; FALSE when there are more than cap - 1 digits (no phone of ours is that long). */
gboolean ident_phone_digits(const char *text, char *buf, size_t cap);

/* A phone number as compared everywhere: ident_phone_digits of the whole text. "+86 138-0000-0003"
 * gives "13800000003"; NULL or no digits gives "". Returns a new string. */
char *ident_phone(const char *text);

#endif
