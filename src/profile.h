/* profile.h: courier profiles, the key files that say how one courier's manifest maps to canonical
 * fields (FORMATS.md, "Courier manifests"). Adding a courier is a new profiles/NAME.profile, no code:
 * canonical.profile documents every key.
 *
 * A profile is data: loaded and validated once, read-only after. A profile_map is a profile applied
 * to one file's header row (and the --set overrides of the call): which column feeds which field.
 * The manifest reader (manifest.h) reads the lines with it. Every error's code is an exit_status:
 * STATUS_DATAERR for a profile or a header that is refused, STATUS_NOINPUT for a profile directory
 * or file that cannot be read, STATUS_USAGE for a bad --profile or --set. */
#ifndef SUBSIDY_PROFILE_H
#define SUBSIDY_PROFILE_H

#include <glib.h>

#define PROFILE_ERROR profile_error_quark()
GQuark profile_error_quark(void);

/* The canonical fields, in the order of the canonical header. */
typedef enum {
	PROFILE_COURIER,
	PROFILE_WAYBILL_NO,
	PROFILE_ORDER_NO,
	PROFILE_PICKUP_TIME,
	PROFILE_SENDER_CODE,
	PROFILE_SENDER_PHONE,
	PROFILE_WEIGHT_KG,
	PROFILE_FEE,
	PROFILE_CATEGORY,
	PROFILE_DESTINATION,
	PROFILE_FIELD_COUNT
} profile_field;

/* The fields every line needs, from a column or a constant (FORMATS.md: courier, waybill_no,
 * pickup_time, fee; and sender_code or sender_phone, which is checked apart): a profile that cannot
 * give one matches no header, a line without one is rejected. */
#define PROFILE_REQUIRED_COUNT 4
extern const profile_field profile_required[PROFILE_REQUIRED_COUNT];

/* Columns of a header row, the file's or a profile's. Courier exports have about ten; a header
 * with more than this is not a manifest, and the bound keeps a record's stored fields bounded. */
#define PROFILE_COLUMNS_MAX 256
/* Columns one field is joined from (ems: a date and a time column). */
#define PROFILE_FIELD_COLUMNS_MAX 4

/* "waybill_no" for PROFILE_WAYBILL_NO. */
const char *profile_field_name(profile_field f);
/* FALSE when name is not a canonical field. */
gboolean profile_field_parse(const char *name, profile_field *out);

/* The rows a header may be searched in (rows_above_header). */
#define PROFILE_HEADER_ROWS_MAX 20
/* The pickup format that reads Excel's serial day numbers (44562 is 2022-01-01, 44562.5 its noon). */
#define PROFILE_FORMAT_EXCEL "excel"

/* Where a profile takes one canonical field from: columns (joined with one space, or added up when
 * sum: fee=运费+附加费) or a constant. */
typedef struct {
	guint n_columns;                            /* 0: not from the file */
	gboolean sum;                               /* the columns are amounts, added (blank is 0) */
	char *column[PROFILE_FIELD_COLUMNS_MAX];    /* header names */
	char *fixed;                                /* [fixed] value, or NULL */
} profile_source;

/* A loaded, validated profile. Read-only once loaded. */
typedef struct {
	char *name;           /* the file name without .profile */
	char *description;    /* may be NULL */
	char *origin;         /* where it was loaded from, for messages */
	char *encoding;       /* an iconv name: "UTF-8", "GB18030" */
	char **header;        /* the courier's whole header row, in order */
	char **ignore;        /* header columns known but not used */
	char *pickup_format;  /* chrono_parse pattern; NULL only when pickup_time is fixed */
	gboolean excel_text;  /* unwrap ="..." cells */
	char *totals_row;     /* the first label of a totals row (totals_labels[0]), or NULL: none */
	char **totals_labels; /* every label of a totals row (合计, 总计, 合计：...); NULL: none */
	char **totals_label_columns; /* the columns a label may be in; NULL: the file's first column */
	char *totals_column;  /* the column whose sum the totals row states, or NULL: no sum check */
	gboolean totals_required;   /* a file without a totals row is refused */
	gboolean keep_after_totals; /* rows after the totals row are kept with the bytes, no outcome
				     * (else a row after it refuses the file) */
	gboolean rows_above_header; /* the header is the first row, within the first
				     * PROFILE_HEADER_ROWS_MAX, that matches; rows above it get no outcome */
	char **pickup_formats; /* every pickup format, tried in order (pickup_format is the first): a
				* chrono_parse pattern or PROFILE_FORMAT_EXCEL */
	/* Present ([courier_names] in the file): the courier column holds names, FORMATS.md's list
	 * (ident.h) or the profile's own, and any other value rejects the line; these are the own
	 * ones, name in normal form -> code. NULL: the column holds codes (or names of the list). */
	GHashTable *courier_names;
	profile_source field[PROFILE_FIELD_COUNT];
} profile;

/* Loads a profile from key-file text. origin names it in messages ("profiles/ems.profile"); the
 * profile's name must be origin's base name without ".profile". Refuses (STATUS_DATAERR, the message
 * naming origin): a group or key it does not know, an unknown canonical field, a column not in
 * header, a header column neither mapped nor ignored, an encoding iconv does not know, a
 * pickup_format chrono_parse cannot use (nor 'excel'), totals_column, totals_label_column,
 * totals_required or rows_after_totals without totals_row, a sum of columns for any field but
 * the fee, and no mapping for
 * waybill_no, pickup_time or fee. courier and sender_code/sender_phone may come from --set, so
 * they are required of a file's map (profile_map_header), not of the profile. */
profile *profile_load(const char *text, gsize len, const char *origin, GError **error);
void profile_free(profile *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(profile, profile_free)

/* Checks --set overrides: each "FIELD=VALUE", FIELD canonical and given once, VALUE not empty after
 * trimming. NULL is no overrides. STATUS_USAGE when one is wrong. */
gboolean profile_check_overrides(const char *const *overrides, GError **error);

/* The profiles one run can use, by name. */
typedef struct profile_set profile_set;

/* The built-in profiles (compiled in from profiles/) and every *.profile in user_dirs (NULL or
 * NULL-terminated). A user profile replaces a built-in one of the same name; between user
 * directories, the first that has a name wins. Any profile that does not load fails the whole set,
 * naming its file. */
profile_set *profile_set_load(const char *const *user_dirs, GError **error);
void profile_set_free(profile_set *ps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(profile_set, profile_set_free)

/* The profile called name, or NULL. */
const profile *profile_set_find(const profile_set *ps, const char *name);
/* The profiles, sorted by name: i < profile_set_size(ps). */
guint profile_set_size(const profile_set *ps);
const profile *profile_set_nth(const profile_set *ps, guint i);

/* One canonical field in one file: a constant, or columns of the file (indices in its header). */
typedef struct {
	const char *fixed;                         /* --set value, else the profile's [fixed], or NULL */
	guint n_columns;                           /* 0 (and not fixed): the field is absent */
	guint column[PROFILE_FIELD_COLUMNS_MAX];
} profile_map_field;

/* A profile applied to one file's header row and the call's overrides. Owns its strings. */
typedef struct {
	const profile *profile;
	char **header;         /* the file's header columns, decoded and trimmed */
	guint n_header;
	profile_map_field field[PROFILE_FIELD_COUNT];
	gint totals_column;    /* index of the profile's totals_column in header; -1: no sum check */
	gboolean totals;       /* the profile has a totals row */
	guint n_label_columns; /* where its label may be (indices in header) */
	guint label_column[PROFILE_FIELD_COLUMNS_MAX];
	char *overrides[PROFILE_FIELD_COUNT]; /* --set values (owned), NULL where none */
} profile_map;

/* Reads a header row with profile p: raw is the file's first row as bytes (its line end may be
 * included), decoded with p's encoding, a byte order mark dropped, split as CSV, each column
 * trimmed. Refuses the file (STATUS_DATAERR, naming file and the column) when the header does not
 * decode or lacks a column p needs for courier, waybill_no, pickup_time, fee, or for both
 * sender_code and sender_phone; a field fixed by p or by overrides needs no column. Overrides must
 * pass profile_check_overrides (else STATUS_USAGE). When a column appears twice, the first counts. */
profile_map *profile_map_header(const profile *p, const char *raw, gsize len, const char *const *overrides,
				const char *file, GError **error);

/* Chooses the profile for a header row (raw as above): a profile matches when every column it
 * needs is present; among several, the one whose whole header is present wins, then the one whose
 * header is exactly the file's. Refuses the file (STATUS_DATAERR) when none matches (the message
 * lists the profiles tried and what the closest lacks, and when the header would match a profile
 * read in another encoding, says so) or several match equally (naming them). */
profile_map *profile_set_detect(const profile_set *ps, const char *raw, gsize len, const char *const *overrides,
				const char *file, GError **error);
/* What profile_set_detect's message says when several profiles match a header equally: such a
 * row is a header (of which profile is the question), so no row below it is searched. */
#define PROFILE_AMBIGUOUS_TEXT "matches several profiles equally"

/* profile_set_detect over a row below the first (a title above the header): only the profiles
 * with rows_above_header are tried. */
profile_map *profile_set_detect_below(const profile_set *ps, const char *raw, gsize len,
				      const char *const *overrides, const char *file, GError **error);
void profile_map_free(profile_map *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(profile_map, profile_map_free)

#endif
