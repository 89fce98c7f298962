# zto.profile: ZTO export saved from Excel (FORMATS.md, "Courier manifests", profile 4).
# UTF-8 without BOM, LF. Waybill numbers come as ="75312345678901", pickup times without seconds,
# amounts like ￥12.50. The last non-blank row is a control total (合计) of 结算金额 over every
# data line: a file without it, or whose total disagrees, is refused. Keys: see canonical.profile.

[profile]
name=zto
description=ZTO export saved from Excel
encoding=UTF-8
header=运单编号,揽件时间,发件客户编号,发件人电话,结算重量,结算金额,订单号,物品类型,目的地
pickup_format=%Y-%m-%d %H:%M
excel_text=true
totals_row=合计
totals_column=结算金额

[fields]
waybill_no=运单编号
pickup_time=揽件时间
sender_code=发件客户编号
sender_phone=发件人电话
weight_kg=结算重量
fee=结算金额
order_no=订单号
category=物品类型
destination=目的地

[fixed]
courier=ZTO
