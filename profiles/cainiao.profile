# cainiao.profile: Cainiao aggregated statement (FORMATS.md, "Courier manifests", profile 3).
# UTF-8 with BOM, CRLF. 快递公司 names the carrier in Chinese; a name neither in FORMATS.md's
# list nor in [courier_names] rejects the line. Keys: see canonical.profile.

[profile]
name=cainiao
description=Cainiao aggregated statement
encoding=UTF-8
header=运单号,快递公司,订单编号,揽收时间,商家编码,发件人手机,计费重量(kg),运费,商品类目,目的省份
pickup_format=%Y-%m-%d %H:%M:%S

[fields]
waybill_no=运单号
courier=快递公司
order_no=订单编号
pickup_time=揽收时间
sender_code=商家编码
sender_phone=发件人手机
weight_kg=计费重量(kg)
fee=运费
category=商品类目
destination=目的省份

[courier_names]
# The carrier names FORMATS.md lists (中通 ZTO, 圆通 YTO, 申通 STO, 韵达 YUNDA, 邮政 and EMS EMS,
# 百世 BEST, 极兔 JT, 顺丰 SF) are the engine's one table (src/ident.c), used in every profile.
# This group says the column holds names, so any other value rejects the line; a carrier the list
# lacks is added here as NAME=CODE.
