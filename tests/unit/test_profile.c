/* test_profile.c: courier profiles (FORMATS.md, "Courier manifests"): the built-in profiles load,
 * a profile that is wrong is refused naming its file and the problem, user directories add and
 * replace profiles, and a header row chooses its profile or is refused saying why. Key files and
 * headers are written to a temporary directory per test. */
#include "assets.h"
#include "profile.h"
#include "ident.h"
#include "status.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>

static char *tmp_dir;

static void setup(void)
{
	GError *error = NULL;
	tmp_dir = g_dir_make_tmp("test-profile-XXXXXX", &error);
	cr_assert_not_null(tmp_dir, "%s", error ? error->message : "");
}

/* Removes tmp_dir and what is in it (subdirectories one level deep). */
static void remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return;
	for (const char *name; (name = g_dir_read_name(d));) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		if (g_file_test(path, G_FILE_TEST_IS_DIR))
			remove_tree(path);
		else
			g_remove(path);
	}
	g_dir_close(d);
	g_rmdir(dir);
}

static void teardown(void)
{
	remove_tree(tmp_dir);
	g_free(tmp_dir);
}

TestSuite(profile, .init = setup, .fini = teardown);

/* A valid profile named NAME with the canonical layout, to change one thing at a time. */
#define CANONICAL_HEADER                                                                                       \
	"courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination"
static const char canonical_text[] =
	"[profile]\n"
	"name=test\n"
	"encoding=UTF-8\n"
	"header=" CANONICAL_HEADER "\n"
	"pickup_format=%Y-%m-%d %H:%M:%S\n"
	"[fields]\n"
	"courier=courier\nwaybill_no=waybill_no\norder_no=order_no\npickup_time=pickup_time\n"
	"sender_code=sender_code\nsender_phone=sender_phone\nweight_kg=weight_kg\nfee=fee\n"
	"category=category\ndestination=destination\n";

/* text with every occurrence of from replaced by to; caller frees. */
static char *replaced(const char *text, const char *from, const char *to)
{
	cr_assert(strstr(text, from), "'%s' not in the text", from);
	g_auto(GStrv) parts = g_strsplit(text, from, -1);
	return g_strjoinv(to, parts);
}

/* Loads text as test.profile; it must be refused with a data error naming the file and saying why. */
static void load_refused(const char *text, const char *why)
{
	GError *error = NULL;
	profile *p = profile_load(text, strlen(text), "dir/test.profile", &error);
	cr_assert_null(p, "profile accepted, expected: %s", why);
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_DATAERR), "code %d", error->code);
	cr_assert(strstr(error->message, "'dir/test.profile'"), "message does not name the file: %s",
		  error->message);
	cr_assert(strstr(error->message, why), "message does not say '%s': %s", why, error->message);
	g_error_free(error);
}

static profile_set *builtin_set(void)
{
	GError *error = NULL;
	profile_set *ps = profile_set_load(NULL, &error);
	cr_assert_not_null(ps, "%s", error ? error->message : "");
	return ps;
}

/* Writes text to dir/name. */
static void write_text(const char *dir, const char *name, const char *text, gssize len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	GError *error = NULL;
	cr_assert(g_file_set_contents(path, text, len, &error), "%s", error ? error->message : "");
}

/* The first line of a shipped sample, as bytes. */
static char *sample_header(const char *name, gsize *len)
{
	g_autofree char *path = g_build_filename("fixtures/manifests/samples", name, NULL);
	char *text = NULL;
	gsize size = 0;
	cr_assert(g_file_get_contents(path, &text, &size, NULL), "cannot read %s", path);
	char *lf = memchr(text, '\n', size);
	cr_assert_not_null(lf);
	*len = (gsize)(lf - text) + 1;
	return text;
}

/* ---- the canonical fields ---- */

Test(profile, canonical_fields_have_their_names)
{
	const char *names[] = { "courier",      "waybill_no", "order_no", "pickup_time", "sender_code",
				"sender_phone", "weight_kg",  "fee",      "category",    "destination" };
	cr_assert_eq(G_N_ELEMENTS(names), PROFILE_FIELD_COUNT);
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		cr_assert_str_eq(profile_field_name((profile_field)f), names[f]);
		profile_field back;
		cr_assert(profile_field_parse(names[f], &back));
		cr_assert_eq(back, (profile_field)f);
	}
	profile_field unused;
	cr_assert_not(profile_field_parse("fees", &unused));
}

/* ---- the built-in profiles ---- */

Test(profile, builtin_profiles_are_the_four_of_formats_md)
{
	g_autoptr(profile_set) ps = builtin_set();
	cr_assert_eq(profile_set_size(ps), 4);
	const char *names[] = { "cainiao", "canonical", "ems", "zto" };
	for (guint i = 0; i < 4; i++)
		cr_assert_str_eq(profile_set_nth(ps, i)->name, names[i]);
	cr_assert_null(profile_set_find(ps, "sf"));
}

Test(profile, builtin_ems_is_gb18030_with_courier_fixed_and_date_plus_time)
{
	g_autoptr(profile_set) ps = builtin_set();
	const profile *ems = profile_set_find(ps, "ems");
	cr_assert_not_null(ems);
	cr_assert_str_eq(ems->encoding, "GB18030");
	cr_assert_str_eq(ems->field[PROFILE_COURIER].fixed, "EMS");
	cr_assert_eq(ems->field[PROFILE_PICKUP_TIME].n_columns, 2);
	cr_assert_str_eq(ems->field[PROFILE_PICKUP_TIME].column[0], "收寄日期");
	cr_assert_str_eq(ems->field[PROFILE_PICKUP_TIME].column[1], "收寄时间");
	cr_assert_str_eq(ems->field[PROFILE_FEE].column[0], "邮费(元)");
	cr_assert(g_strv_contains((const char *const *)ems->ignore, "保价费(元)"));
	cr_assert_eq(g_strv_length(ems->header), 11);
}

/* FORMATS.md's names are one table (src/ident.c), used in every profile: cainiao's
 * [courier_names] only says that its column holds names, and adds none. */
Test(profile, builtin_cainiao_takes_its_courier_names_from_the_one_table)
{
	g_autoptr(profile_set) ps = builtin_set();
	const profile *p = profile_set_find(ps, "cainiao");
	cr_assert_not_null(p->courier_names);
	cr_assert_eq(g_hash_table_size(p->courier_names), 0);
	const char *pairs[][2] = { { "中通", "ZTO" },   { "圆通", "YTO" }, { "申通", "STO" },
				   { "韵达", "YUNDA" }, { "邮政", "EMS" }, { "EMS", "EMS" },
				   { "百世", "BEST" },  { "极兔", "JT" },  { "顺丰", "SF" } };
	for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++)
		cr_assert_str_eq(ident_courier_name_code(pairs[i][0]), pairs[i][1]);
	cr_assert_null(ident_courier_name_code("德邦"));
}

/* A profile may add a carrier the list lacks; names and codes are kept in normal form. A name of
 * the list may be repeated with its own code (older profiles did), not given another. */
Test(profile, courier_names_add_to_the_list_in_normal_form_and_cannot_contradict_it)
{
	g_autofree char *text = g_strconcat(canonical_text, "[courier_names]\n德邦 =dbl\nＸＹ=xy\n圆通=YTO\n", NULL);
	GError *error = NULL;
	profile *p = profile_load(text, strlen(text), "dir/test.profile", &error);
	cr_assert_not_null(p, "%s", error ? error->message : "");
	cr_assert_str_eq(g_hash_table_lookup(p->courier_names, "德邦"), "DBL");
	cr_assert_str_eq(g_hash_table_lookup(p->courier_names, "XY"), "XY");
	cr_assert_str_eq(g_hash_table_lookup(p->courier_names, "圆通"), "YTO");
	profile_free(p);
	g_autofree char *other = g_strconcat(canonical_text, "[courier_names]\n圆通=ZTO\n", NULL);
	load_refused(other, "[courier_names] 圆通 is YTO, not ZTO (FORMATS.md)");
	g_autofree char *twice = g_strconcat(canonical_text, "[courier_names]\nxy=A\nXY=A\n", NULL);
	load_refused(twice, "names 'XY' twice");
	g_autofree char *blank = g_strconcat(canonical_text, "[courier_names]\nA=\xE2\x80\x8B\n", NULL);
	load_refused(blank, "[courier_names] A is empty");
}

Test(profile, builtin_zto_has_excel_text_and_a_totals_row)
{
	g_autoptr(profile_set) ps = builtin_set();
	const profile *p = profile_set_find(ps, "zto");
	cr_assert(p->excel_text);
	cr_assert_str_eq(p->totals_row, "合计");
	cr_assert_str_eq(p->totals_column, "结算金额");
	cr_assert_str_eq(p->pickup_format, "%Y-%m-%d %H:%M");
	cr_assert_str_eq(p->field[PROFILE_COURIER].fixed, "ZTO");
}

/* ---- a profile that is wrong is refused, naming its file ---- */

Test(profile, valid_profile_loads)
{
	GError *error = NULL;
	g_autoptr(profile) p = profile_load(canonical_text, strlen(canonical_text), "dir/test.profile", &error);
	cr_assert_not_null(p, "%s", error ? error->message : "");
	cr_assert_str_eq(p->name, "test");
	cr_assert_not(p->excel_text);
	cr_assert_null(p->courier_names);
}

/* A value that is not UTF-8 was read by GKeyFile as no value at all: zto's totals_column so
 * written loaded as a profile with a totals row but no control total, and files without one were
 * taken (found by the profile fuzz target; fuzz/regressions/profile/totals-column-not-utf8). A
 * profile is UTF-8 text; one that is not is refused, naming the line. Also in a comment, and in a
 * value nothing reads: no byte of a profile is let through unread. */
Test(profile, a_profile_that_is_not_utf8_is_refused_naming_the_line)
{
	g_autofree char *value = replaced(canonical_text, "\nfee=fee", "\nfee=fee\xff");
	load_refused(value, "line ");
	load_refused(value, "is not UTF-8");
	g_autofree char *comment = g_strconcat("# \xe9t\xe9\n", canonical_text, NULL);
	load_refused(comment, "line 1 is not UTF-8");
	/* zto's totals_column, one byte off. */
	GError *error = NULL;
	g_autoptr(GBytes) bytes = assets_get("profiles", "zto.profile");
	cr_assert_not_null(bytes);
	g_autofree char *zto = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	g_autofree char *broken = replaced(zto, "totals_column=", "totals_column=\xff");
	profile *p = profile_load(broken, strlen(broken), "dir/test.profile", &error);
	cr_assert_null(p, "zto with a totals_column that is not UTF-8 loaded");
	cr_assert(strstr(error->message, "is not UTF-8"), "%s", error->message);
	g_error_free(error);
}

Test(profile, unknown_canonical_field_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "\nfee=fee", "\nfees=fee");
	load_refused(text, "unknown field 'fees'");
}

Test(profile, unknown_field_in_fixed_is_refused)
{
	g_autofree char *text = g_strconcat(canonical_text, "[fixed]\ncarrier=ZTO\n", NULL);
	load_refused(text, "unknown field 'carrier'");
}

Test(profile, missing_required_mapping_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "\nfee=fee", "");
	g_autofree char *ignored = replaced(text, "pickup_format", "ignore=fee\npickup_format");
	load_refused(ignored, "no column for fee");
}

Test(profile, column_not_in_header_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "\nfee=fee", "\nfee=运费");
	load_refused(text, "column '运费', which is not in header");
}

/* The columns named before the one not in header were kept and never freed (LeakSanitizer under
 * build/asan; fuzz/regressions/profile/second-column-unknown). */
Test(profile, second_column_not_in_header_is_refused_without_a_leak)
{
	g_autofree char *text = replaced(canonical_text, "\npickup_time=pickup_time", "\npickup_time=pickup_time,时间");
	load_refused(text, "column '时间', which is not in header");
}

/* GKeyFile merges a repeated group and lists its keys twice: the first mapping was overwritten and
 * leaked (fuzz/regressions/profile/fields-group-twice). */
Test(profile, fields_group_given_twice_is_refused)
{
	g_autofree char *text = g_strconcat(canonical_text, "[fields]\nfee=fee\n", NULL);
	load_refused(text, "[fields] fee is given twice");
}

Test(profile, fixed_group_given_twice_is_refused)
{
	g_autofree char *no_courier = replaced(canonical_text, "courier=courier\n", "");
	g_autofree char *text = g_strconcat(no_courier, "[fixed]\ncourier=ZTO\n[fields]\n[fixed]\ncourier=ZTO\n", NULL);
	load_refused(text, "[fixed] courier is given twice");
}

Test(profile, header_column_neither_mapped_nor_ignored_is_refused)
{
	g_autofree char *text = replaced(canonical_text, ",destination\n", ",destination,保价费\n");
	load_refused(text, "'保价费' is neither in [fields] nor in ignore");
}

Test(profile, unknown_key_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "encoding=", "encodng=UTF-8\nencoding=");
	load_refused(text, "unknown key 'encodng'");
}

Test(profile, unknown_group_is_refused)
{
	g_autofree char *text = g_strconcat(canonical_text, "[couriers]\n中通=ZTO\n", NULL);
	load_refused(text, "unknown group [couriers]");
}

Test(profile, unknown_encoding_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "encoding=UTF-8", "encoding=KLINGON-8");
	load_refused(text, "unknown encoding 'KLINGON-8'");
}

Test(profile, pickup_format_chrono_cannot_use_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "%Y-%m-%d %H:%M:%S", "%y-%m-%d");
	load_refused(text, "it may only use %Y %m %d %H %M %S");
	g_autofree char *no_day = replaced(canonical_text, "%Y-%m-%d %H:%M:%S", "%Y-%m %H:%M");
	load_refused(no_day, "it needs %Y, %m and %d");
}

Test(profile, name_other_than_the_file_name_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "name=test", "name=other");
	load_refused(text, "name must be 'test'");
}

/* A totals row may be only recognised (its label), without a control total; a total needs a label. */
Test(profile, totals_column_without_totals_row_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "pickup_format", "totals_column=fee\npickup_format");
	load_refused(text, "totals_column needs totals_row");
}

Test(profile, courier_names_without_a_courier_column_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "\ncourier=courier", "");
	g_autofree char *fixed = replaced(text, "pickup_format", "ignore=courier\npickup_format");
	g_autofree char *names = g_strconcat(fixed, "[courier_names]\n中通=ZTO\n", NULL);
	load_refused(names, "[courier_names] needs a courier column");
}

Test(profile, syntax_error_is_refused)
{
	load_refused("[profile\nname=test\n", "dir/test.profile");
}

/* ---- the set: built-ins plus user directories ---- */

Test(profile, user_profile_with_a_builtin_name_replaces_it)
{
	g_autofree char *text = replaced(canonical_text, "name=test", "name=canonical\ndescription=mine");
	write_text(tmp_dir, "canonical.profile", text, -1);
	const char *dirs[] = { tmp_dir, NULL };
	GError *error = NULL;
	g_autoptr(profile_set) ps = profile_set_load(dirs, &error);
	cr_assert_not_null(ps, "%s", error ? error->message : "");
	cr_assert_eq(profile_set_size(ps), 4);
	const profile *p = profile_set_find(ps, "canonical");
	cr_assert_str_eq(p->description, "mine");
	cr_assert(strstr(p->origin, tmp_dir), "origin %s", p->origin);
}

Test(profile, user_profile_with_a_new_name_is_added)
{
	g_autofree char *text = replaced(canonical_text, "name=test", "name=sf");
	write_text(tmp_dir, "sf.profile", text, -1);
	write_text(tmp_dir, "notes.txt", "not a profile", -1);
	const char *dirs[] = { tmp_dir, NULL };
	g_autoptr(profile_set) ps = profile_set_load(dirs, NULL);
	cr_assert_not_null(ps);
	cr_assert_eq(profile_set_size(ps), 5);
	cr_assert_not_null(profile_set_find(ps, "sf"));
	cr_assert_str_eq(profile_set_nth(ps, 4)->name, "zto"); /* sorted: ..., sf, zto */
}

Test(profile, bad_user_profile_fails_the_set_naming_its_file)
{
	write_text(tmp_dir, "test.profile", "[profile]\nname=test\n", -1);
	const char *dirs[] = { tmp_dir, NULL };
	GError *error = NULL;
	cr_assert_null(profile_set_load(dirs, &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_DATAERR));
	cr_assert(strstr(error->message, "test.profile"), "%s", error->message);
	g_error_free(error);
}

Test(profile, missing_user_directory_is_no_input)
{
	g_autofree char *missing = g_build_filename(tmp_dir, "absent", NULL);
	const char *dirs[] = { missing, NULL };
	GError *error = NULL;
	cr_assert_null(profile_set_load(dirs, &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_NOINPUT));
	cr_assert(strstr(error->message, "absent"), "%s", error->message);
	g_error_free(error);
}

/* ---- detection from the header row ---- */

/* Detects the profile of the first line of a sample. */
static void detects(const char *sample, const char *name)
{
	g_autoptr(profile_set) ps = builtin_set();
	gsize len = 0;
	g_autofree char *raw = sample_header(sample, &len);
	GError *error = NULL;
	g_autoptr(profile_map) m = profile_set_detect(ps, raw, len, NULL, sample, &error);
	cr_assert_not_null(m, "%s: %s", sample, error ? error->message : "");
	cr_assert_str_eq(m->profile->name, name);
	cr_assert_eq(m->n_header, g_strv_length(m->profile->header));
}

Test(profile, detects_canonical_sample)
{
	detects("canonical.csv", "canonical");
}
Test(profile, detects_ems_sample_in_gb18030)
{
	detects("ems.csv", "ems");
}
Test(profile, detects_cainiao_sample_with_bom)
{
	detects("cainiao.csv", "cainiao");
}
Test(profile, detects_zto_sample)
{
	detects("zto.csv", "zto");
}

Test(profile, ems_map_joins_date_and_time_columns)
{
	g_autoptr(profile_set) ps = builtin_set();
	gsize len = 0;
	g_autofree char *raw = sample_header("ems.csv", &len);
	g_autoptr(profile_map) m = profile_set_detect(ps, raw, len, NULL, "ems.csv", NULL);
	cr_assert_not_null(m);
	cr_assert_eq(m->field[PROFILE_PICKUP_TIME].n_columns, 2);
	cr_assert_eq(m->field[PROFILE_PICKUP_TIME].column[0], 1);
	cr_assert_eq(m->field[PROFILE_PICKUP_TIME].column[1], 2);
	cr_assert_str_eq(m->field[PROFILE_COURIER].fixed, "EMS");
	cr_assert_eq(m->totals_column, -1);
}

Test(profile, header_in_another_order_still_matches)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = "fee,waybill_no,courier,pickup_time,sender_phone\r\n";
	g_autoptr(profile_map) m = profile_set_detect(ps, header, strlen(header), NULL, "x.csv", NULL);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->profile->name, "canonical");
	cr_assert_eq(m->field[PROFILE_FEE].column[0], 0);
	cr_assert_eq(m->field[PROFILE_SENDER_CODE].n_columns, 0); /* absent: sender_phone suffices */
	cr_assert_eq(m->field[PROFILE_CATEGORY].n_columns, 0);
}

Test(profile, header_matching_nothing_lists_profiles_and_the_closest)
{
	g_autoptr(profile_set) ps = builtin_set();
	/* zto's header without 结算金额 (fee, and the totals column) */
	const char header[] = "运单编号,揽件时间,发件客户编号,发件人电话,结算重量,订单号,物品类型,目的地\n";
	GError *error = NULL;
	cr_assert_null(profile_set_detect(ps, header, strlen(header), NULL, "x.csv", &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_DATAERR));
	cr_assert(strstr(error->message,
			 "header of 'x.csv' matches no profile (tried cainiao, canonical, ems, zto)"),
		  "%s", error->message);
	cr_assert(strstr(error->message, "(tried cainiao, canonical, ems, zto)\nDETAIL: closest is 'zto', which lacks column '结算金额' (fee)"), "%s",
		  error->message);
	g_error_free(error);
}

Test(profile, header_of_nonsense_matches_nothing_and_says_so)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = "a,b,c\n";
	GError *error = NULL;
	cr_assert_null(profile_set_detect(ps, header, strlen(header), NULL, "x.csv", &error));
	cr_assert(strstr(error->message, "matches no profile (tried cainiao, canonical, ems, zto)\n"
					 "DETAIL: no profile has any of its columns"),
		  "%s", error->message);
	g_error_free(error);
}

Test(profile, header_matching_several_equally_names_them)
{
	g_autofree char *text = replaced(canonical_text, "name=test", "name=canonical2");
	write_text(tmp_dir, "canonical2.profile", text, -1);
	const char *dirs[] = { tmp_dir, NULL };
	g_autoptr(profile_set) ps = profile_set_load(dirs, NULL);
	cr_assert_not_null(ps);
	const char header[] = CANONICAL_HEADER "\n";
	GError *error = NULL;
	cr_assert_null(profile_set_detect(ps, header, strlen(header), NULL, "x.csv", &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_DATAERR));
	cr_assert(strstr(error->message, "matches several profiles equally: 'canonical', 'canonical2'\n"
					 "HINT: choose one with --profile"),
		  "%s",
		  error->message);
	g_error_free(error);
}

Test(profile, whole_header_breaks_a_tie)
{
	/* ems_plus: ems with one more column. Each file goes to the profile whose header it is. */
	g_autoptr(profile_set) builtin = builtin_set();
	const profile *ems = profile_set_find(builtin, "ems");
	g_autofree char *header = g_strjoinv(",", ems->header);
	g_autofree char *text =
		g_strdup_printf("[profile]\nname=ems_plus\nencoding=GB18030\nheader=%s,备注\n"
				"ignore=保价费(元),备注\npickup_format=%s\n[fixed]\ncourier=EMS\n"
				"[fields]\nwaybill_no=邮件号\npickup_time=收寄日期,收寄时间\n"
				"sender_code=寄件人客户代码\nsender_phone=寄件人电话\nweight_kg=重量(千克)\n"
				"fee=邮费(元)\norder_no=订单号\ncategory=内件品名\ndestination=寄达省份\n",
				header, ems->pickup_format);
	write_text(tmp_dir, "ems_plus.profile", text, -1);
	const char *dirs[] = { tmp_dir, NULL };
	GError *error = NULL;
	g_autoptr(profile_set) ps = profile_set_load(dirs, &error);
	cr_assert_not_null(ps, "%s", error ? error->message : "");

	gsize len = 0;
	g_autofree char *ems_raw = g_convert(header, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	g_autoptr(profile_map) m = profile_set_detect(ps, ems_raw, len, NULL, "a.csv", &error);
	cr_assert_not_null(m, "%s", error ? error->message : "");
	cr_assert_str_eq(m->profile->name, "ems");

	g_autofree char *plus = g_strconcat(header, ",备注", NULL);
	g_autofree char *plus_raw = g_convert(plus, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	g_autoptr(profile_map) m2 = profile_set_detect(ps, plus_raw, len, NULL, "b.csv", &error);
	cr_assert_not_null(m2, "%s", error ? error->message : "");
	cr_assert_str_eq(m2->profile->name, "ems_plus");
}

Test(profile, explicit_profile_refuses_a_header_missing_a_required_column)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header_utf8[] =
		"邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),保价费(元),订单号\r\n";
	gsize len = 0;
	g_autofree char *raw = g_convert(header_utf8, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	GError *error = NULL;
	cr_assert_null(profile_map_header(profile_set_find(ps, "ems"), raw, len, NULL, "ems-1.csv", &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_DATAERR));
	cr_assert(strstr(error->message,
			 "header of 'ems-1.csv' lacks column '邮费(元)' (fee), required by profile 'ems'"),
		  "%s", error->message);
	g_error_free(error);
}

Test(profile, explicit_profile_refuses_a_header_in_another_encoding)
{
	g_autoptr(profile_set) ps = builtin_set();
	gsize len = 0;
	g_autofree char *raw = sample_header("ems.csv", &len);
	GError *error = NULL;
	cr_assert_null(
		profile_map_header(profile_set_find(ps, "canonical"), raw, len, NULL, "ems.csv", &error));
	cr_assert(strstr(error->message, "header of 'ems.csv' is not valid UTF-8"), "%s", error->message);
	g_error_free(error);
}

Test(profile, header_without_either_sender_column_is_refused_naming_both)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = "courier,waybill_no,pickup_time,fee\n";
	GError *error = NULL;
	cr_assert_null(profile_map_header(profile_set_find(ps, "canonical"), header, strlen(header), NULL,
					  "x.csv", &error));
	cr_assert(strstr(error->message,
			 "column 'sender_code' (sender_code) or column 'sender_phone' (sender_phone)"),
		  "%s", error->message);
	g_error_free(error);
}

/* ---- --set overrides ---- */

Test(profile, override_supplies_a_missing_sender)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = "courier,waybill_no,pickup_time,fee\n";
	const char *overrides[] = { "sender_code = SHOP-7 ", NULL };
	GError *error = NULL;
	g_autoptr(profile_map) m = profile_set_detect(ps, header, strlen(header), overrides, "x.csv", &error);
	cr_assert_not_null(m, "%s", error ? error->message : "");
	cr_assert_str_eq(m->field[PROFILE_SENDER_CODE].fixed, "SHOP-7");
}

Test(profile, override_replaces_a_column)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = CANONICAL_HEADER "\n";
	const char *overrides[] = { "courier=YTO", NULL };
	g_autoptr(profile_map) m = profile_map_header(profile_set_find(ps, "canonical"), header, strlen(header),
						      overrides, "x.csv", NULL);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->field[PROFILE_COURIER].fixed, "YTO");
	cr_assert_eq(m->field[PROFILE_COURIER].n_columns, 0);
}

/* An override that is wrong is a usage error saying why. */
static void override_refused(const char *override, const char *why)
{
	const char *overrides[] = { "fee=1.00", override, NULL };
	GError *error = NULL;
	cr_assert_not(profile_check_overrides(overrides, &error), "'%s' accepted", override);
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_USAGE), "code %d", error->code);
	cr_assert(strstr(error->message, why), "message does not say '%s': %s", why, error->message);
	g_error_free(error);
}

Test(profile, override_of_an_unknown_field_is_a_usage_error)
{
	override_refused("shop=S1", "unknown field");
}
Test(profile, override_without_equals_is_a_usage_error)
{
	override_refused("sender_code", "not FIELD=VALUE");
}
Test(profile, override_with_empty_value_is_a_usage_error)
{
	override_refused("sender_code= ", "empty value");
}
Test(profile, override_twice_is_a_usage_error)
{
	override_refused("fee=2.00", "set twice");
}

Test(profile, overrides_that_are_right_pass)
{
	const char *overrides[] = { "sender_code=S1", "courier=ZTO", NULL };
	cr_assert(profile_check_overrides(overrides, NULL));
	cr_assert(profile_check_overrides(NULL, NULL));
}

Test(profile, detection_refuses_a_bad_override)
{
	g_autoptr(profile_set) ps = builtin_set();
	const char header[] = CANONICAL_HEADER "\n";
	const char *overrides[] = { "shop=S1", NULL };
	GError *error = NULL;
	cr_assert_null(profile_set_detect(ps, header, strlen(header), overrides, "x.csv", &error));
	cr_assert(g_error_matches(error, PROFILE_ERROR, STATUS_USAGE));
	g_error_free(error);
}

/* ---- what a profile can say (FORMATS.md): the keys load, and their slips are refused ---- */

static profile *load_ok(const char *text)
{
	GError *error = NULL;
	profile *p = profile_load(text, strlen(text), "dir/test.profile", &error);
	cr_assert_not_null(p, "refused: %s", error ? error->message : "");
	return p;
}

Test(profile, the_profile_language_loads)
{
	g_autofree char *t1 = replaced(canonical_text, "pickup_format=%Y-%m-%d %H:%M:%S\n",
				       "pickup_format=%Y-%m-%d, excel\nrows_above_header=true\n"
				       "totals_row=合计, 总计,合计：\ntotals_label_column=courier,waybill_no\n"
				       "rows_after_totals=keep\n");
	g_autofree char *text = replaced(t1, "\nfee=fee\n", "\nfee=fee + category\n");
	g_autoptr(profile) p = load_ok(text);
	cr_assert(p->rows_above_header);
	cr_assert_eq(g_strv_length(p->pickup_formats), 2);
	cr_assert_str_eq(p->pickup_formats[1], "excel");
	cr_assert_eq(g_strv_length(p->totals_labels), 3);
	cr_assert_str_eq(p->totals_labels[1], "总计");
	cr_assert_str_eq(p->totals_label_columns[1], "waybill_no");
	cr_assert_not(p->totals_required, "no totals_column: not required unless said");
	cr_assert(p->keep_after_totals);
	cr_assert(p->field[PROFILE_FEE].sum);
	cr_assert_eq(p->field[PROFILE_FEE].n_columns, 2);
	cr_assert_str_eq(p->field[PROFILE_FEE].column[1], "category");
}

Test(profile, builtin_zto_still_requires_its_totals_row_and_refuses_rows_after_it)
{
	g_autoptr(profile_set) ps = builtin_set();
	const profile *p = profile_set_find(ps, "zto");
	cr_assert(p->totals_required);
	cr_assert_not(p->keep_after_totals);
	cr_assert_not(p->rows_above_header);
}

Test(profile, only_the_fee_may_be_a_sum_of_columns)
{
	g_autofree char *text = replaced(canonical_text, "\nweight_kg=weight_kg\n", "\nweight_kg=weight_kg+fee\n");
	load_refused(text, "only fee may be a sum of columns");
}

Test(profile, a_sum_naming_a_column_not_in_header_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "\nfee=fee\n", "\nfee=fee+附加费\n");
	load_refused(text, "names column '附加费', which is not in header");
}

Test(profile, a_pickup_format_that_is_neither_a_pattern_nor_excel_is_refused)
{
	g_autofree char *text = replaced(canonical_text, "pickup_format=%Y-%m-%d %H:%M:%S",
					 "pickup_format=%Y-%m-%d,lotus");
	load_refused(text, "pickup_format 'lotus'");
}

Test(profile, totals_keys_without_a_totals_row_or_with_a_bad_value_are_refused)
{
	g_autofree char *a = replaced(canonical_text, "pickup_format", "rows_after_totals=keep\npickup_format");
	load_refused(a, "rows_after_totals needs totals_row");
	g_autofree char *b = replaced(canonical_text, "pickup_format", "totals_row=合计\nrows_after_totals=ignore\npickup_format");
	load_refused(b, "rows_after_totals must be keep or refuse");
	g_autofree char *c = replaced(canonical_text, "pickup_format", "totals_row=合计\ntotals_label_column=合计\npickup_format");
	load_refused(c, "totals_label_column '合计' is not in header");
	g_autofree char *d = replaced(canonical_text, "pickup_format", "totals_required=true\npickup_format");
	load_refused(d, "totals_required needs totals_row");
	g_autofree char *e = replaced(canonical_text, "pickup_format", "rows_above_header=maybe\npickup_format");
	load_refused(e, "rows_above_header must be true or false");
}
