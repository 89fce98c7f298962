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
#                              without %H the pickup is the start of that day
#               excel_text     true: a cell ="..." (Excel's keep-as-text trick) means its inside
#               totals_row     the first cell of a control-total row that must end the file
#               totals_column  the column whose sum over the data lines the totals row states
#   [fields]    canonical field = header column; several columns (comma separated) are joined
#               with one space, so a date column and a time column make one pickup_time
#   [fixed]     canonical field = the value of that field on every line
#   [courier_names]  name in the courier column = courier code, besides FORMATS.md's list
#               (圆通=YTO ...), which holds in every profile; with this group (even empty) the
#               column holds names, and a value that is no name rejects the line
# Courier, waybill_no and order_no are compared and stored in one normal form (src/ident.h):
# NFKC, upper case, spaces and invisible characters removed; a listed name is its code.
# Canonical fields: courier, waybill_no, order_no, pickup_time, sender_code, sender_phone,
# weight_kg, fee, category, destination. Every column of header is in [fields] or in ignore.

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
