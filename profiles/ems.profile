# ems.profile: China Post EMS daily statement (FORMATS.md, "Courier manifests", profile 2).
# GB18030, CRLF. The date (2018/6/18, no zero padding) and the time (9:05:33) are two columns.
# 保价费 (insurance) is never subsidised. Keys: see canonical.profile.

[profile]
name=ems
description=China Post EMS daily statement
encoding=GB18030
header=邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),保价费(元),订单号,内件品名,寄达省份
ignore=保价费(元)
pickup_format=%Y/%m/%d %H:%M:%S

[fields]
waybill_no=邮件号
pickup_time=收寄日期,收寄时间
sender_code=寄件人客户代码
sender_phone=寄件人电话
weight_kg=重量(千克)
fee=邮费(元)
order_no=订单号
category=内件品名
destination=寄达省份

[fixed]
courier=EMS
