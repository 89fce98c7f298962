# canonical.profile: the engine's own manifest layout (FORMATS.md, "Courier manifests", profile 1).
# UTF-8, LF; every canonical field in its own column, named as the field.
#
# The keys every profile may use (src/profile.h reads them; a key or group not listed here is an
# error, so a typing slip is caught when the profile loads):
#   [profile]   name           the file name without .profile
#               description    one line for people
#               encoding       how the file is encoded: UTF-8, GB18030 (anything iconv knows)
#               header         the courier's header row, every column in order (comma separated)
#               ignore         header columns known but not used
#               pickup_format  how pickup_time reads: %Y %m %d %H %M %S (1 or 2 digits, but %Y 4);
#                              without %H the pickup is the start of that day, and is shown as a
#                              date; several formats (comma separated) are tried in order, and
#                              'excel' reads Excel's serial days (44562 is 2022-01-01, 44562.5 noon)
#               excel_text     true: a cell ="..." (Excel's keep-as-text trick) means its inside
#               rows_above_header  true: a title or date range may stand above the header, which is
#                              the first row, within the first 20, that matches; the rows above it
#                              are kept with the file's bytes and get no outcome
#               totals_row     the labels of a totals row (comma separated: 合计,总计,合计：); the
#                              row is kept with the bytes, has no outcome, is not counted in lines
#               totals_label_column  the columns a label may be in (default: the first column)
#               totals_column  the column whose sum over the data lines the totals row states;
#                              a different sum refuses the file (truncated or altered)
#               totals_required  true: a file without a totals row is refused (the default when
#                              totals_column is given, else false)
#               rows_after_totals  keep: rows after the totals row (制表人：...) are kept with the
#                              bytes, no outcome; refuse (the default): such a file is refused
#   [fields]    canonical field = header column; several columns (comma separated) are joined
#               with one space, so a date column and a time column make one pickup_time;
#               fee=A+B adds the amounts of columns A and B (a blank one is 0; only the fee)
#   [fixed]     canonical field = the value of that field on every line
#   [courier_names]  name in the courier column = courier code, besides FORMATS.md's list
#               (圆通=YTO ...), which holds in every profile; with this group (even empty) the
#               column holds names, and a value that is no name rejects the line
# Courier, waybill_no and order_no are compared and stored in one normal form (src/ident.h):
# NFKC, upper case, spaces and invisible characters removed; a listed name is its code.
# Canonical fields: courier, waybill_no, order_no, pickup_time, sender_code, sender_phone,
# weight_kg, fee, category, destination. Every column of header is in [fields] or in ignore.
# weight_kg, destination and category are stored as received and never reject a line.

[profile]
name=canonical
description=the engine's canonical manifest
encoding=UTF-8
header=courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination
pickup_format=%Y-%m-%d %H:%M:%S

[fields]
courier=courier
waybill_no=waybill_no
order_no=order_no
pickup_time=pickup_time
sender_code=sender_code
sender_phone=sender_phone
weight_kg=weight_kg
fee=fee
category=category
destination=destination
